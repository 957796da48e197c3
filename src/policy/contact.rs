//! Contact caps: how many attempts a channel allows in a window, the quiet period after a
//! conversation, and the fallback action when a cap blocks the one the rules chose.
//!
//! Rules, in order: the cap of the chosen action's channel is looked up; a conversation within
//! `quiet_days_after_conversation` blocks first ([`GuardRule::QuietPeriod`]), then
//! `max_attempts` reached within `window_days` ([`GuardRule::MaxAttempts`]); a blocked action is
//! replaced by the cap's fallback, which is checked the same way, and the first block is the
//! decision's [`Guard`]. Attempts after the decision time are ignored.

use chrono::{DateTime, Duration, Utc};
use serde::Deserialize;

use super::{Action, Policy};
use crate::domain::{Account, ContactOutcome};

/// A cap on contact attempts over one channel.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContactCap {
    /// The capped channel, for example `phone`.
    pub channel: String,
    /// Most attempts over the channel within `window_days` (the next one would exceed it).
    pub max_attempts: u32,
    /// The window, in days back from the decision time.
    pub window_days: u32,
    /// No attempt over the channel for this many days after a conversation over it (0: none).
    #[serde(default)]
    pub quiet_days_after_conversation: u32,
    /// What to do instead when the cap blocks the channel.
    pub fallback: Action,
}

/// A contact cap that blocked an action.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Guard<'p> {
    /// The action the rules chose, blocked.
    pub blocked: &'p Action,
    /// The rule that blocked it.
    pub rule: GuardRule,
}

/// Which part of a contact cap blocked an action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GuardRule {
    /// `attempts` in the last `window_days` days reach `max_attempts`.
    MaxAttempts {
        /// Attempts in the window.
        attempts: u32,
        /// The cap.
        max_attempts: u32,
        /// The window.
        window_days: u32,
    },
    /// A conversation `hours_ago` hours ago, within the quiet period.
    QuietPeriod {
        /// Hours since the conversation.
        hours_ago: i64,
        /// The quiet period.
        quiet_days: u32,
    },
}

impl GuardRule {
    /// `max_attempts` or `quiet_period`.
    pub fn code(self) -> &'static str {
        match self {
            GuardRule::MaxAttempts { .. } => "max_attempts",
            GuardRule::QuietPeriod { .. } => "quiet_period",
        }
    }
}

impl Guard<'_> {
    /// Readable explanation.
    pub fn reason(&self) -> String {
        let channel = &self.blocked.channel;
        match self.rule {
            GuardRule::MaxAttempts {
                attempts,
                max_attempts,
                window_days,
            } => format!(
                "{attempts} {channel} attempts in the last {window_days} days (at most {max_attempts})"
            ),
            GuardRule::QuietPeriod {
                hours_ago,
                quiet_days,
            } => format!(
                "a {channel} conversation {hours_ago} hours ago: no {channel} contact for {quiet_days} days after a conversation"
            ),
        }
    }
}

impl Policy {
    /// Applies the contact caps to `action`: the first permitted action along the fallbacks,
    /// and the guard of the first one blocked.
    pub(super) fn guard<'p>(
        &'p self,
        action: &'p Action,
        account: &Account,
        now: DateTime<Utc>,
    ) -> (&'p Action, Option<Guard<'p>>) {
        let mut current = action;
        let mut first: Option<Guard<'p>> = None;
        // Validation rules out fallback cycles; the bound keeps this total regardless.
        for _ in 0..=self.contact_caps.len() {
            let Some(cap) = self
                .contact_caps
                .iter()
                .find(|c| c.channel == current.channel)
            else {
                break;
            };
            let Some(rule) = cap.blocks(account, now) else {
                break;
            };
            first.get_or_insert(Guard {
                blocked: current,
                rule,
            });
            current = &cap.fallback;
        }
        (current, first)
    }
}

impl ContactCap {
    /// The rule that blocks one more attempt over this channel at `now`, if any. Attempts after
    /// `now` are ignored.
    pub(super) fn blocks(&self, account: &Account, now: DateTime<Utc>) -> Option<GuardRule> {
        let window_start = now - Duration::days(i64::from(self.window_days));
        let quiet_start = now - Duration::days(i64::from(self.quiet_days_after_conversation));
        let (mut attempts, mut last_conversation) = (0u32, None);
        for c in &account.contacts {
            if c.channel != self.channel || c.at > now {
                continue;
            }
            if c.at > window_start {
                attempts += 1;
            }
            if c.outcome == ContactOutcome::Conversation
                && self.quiet_days_after_conversation > 0
                && c.at > quiet_start
            {
                last_conversation = last_conversation.max(Some(c.at));
            }
        }
        if let Some(at) = last_conversation {
            return Some(GuardRule::QuietPeriod {
                hours_ago: (now - at).num_hours(),
                quiet_days: self.quiet_days_after_conversation,
            });
        }
        (attempts >= self.max_attempts).then_some(GuardRule::MaxAttempts {
            attempts,
            max_attempts: self.max_attempts,
            window_days: self.window_days,
        })
    }
}
