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

/// A contact cap or a compliance hold that blocked an action.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Guard<'p> {
    /// The action that was blocked.
    pub blocked: &'p Action,
    /// The rule that blocked it.
    pub rule: GuardRule,
}

/// Which rule blocked an action: a part of a contact cap, or a compliance hold
/// (`policy::compliance`).
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
    /// Bankruptcy: the automatic stay.
    Bankruptcy,
    /// The customer has died.
    Deceased,
    /// The debt is disputed.
    DisputePending,
    /// The customer asked that communication cease.
    CeaseCommunication,
    /// An attorney represents the customer.
    AttorneyRepresented,
    /// The customer opted out of the blocked action's channel.
    OptedOut,
    /// Outside the contact hours in the customer's time zone.
    ContactHours {
        /// The customer's time zone (or the policy's default).
        zone: chrono_tz::Tz,
        /// The hours.
        start: chrono::NaiveTime,
        /// See `start`.
        end: chrono::NaiveTime,
        /// The next permitted time.
        next: DateTime<Utc>,
    },
}

impl GuardRule {
    /// `max_attempts` or `quiet_period`.
    pub fn code(self) -> &'static str {
        match self {
            GuardRule::MaxAttempts { .. } => "max_attempts",
            GuardRule::QuietPeriod { .. } => "quiet_period",
            GuardRule::Bankruptcy => "bankruptcy",
            GuardRule::Deceased => "deceased",
            GuardRule::DisputePending => "dispute_pending",
            GuardRule::CeaseCommunication => "cease_communication",
            GuardRule::AttorneyRepresented => "attorney_represented",
            GuardRule::OptedOut => "opted_out",
            GuardRule::ContactHours { .. } => "contact_hours",
        }
    }
}

impl<'p> Guard<'p> {
    /// `rule` blocked `blocked`.
    pub fn new(blocked: &'p Action, rule: GuardRule) -> Guard<'p> {
        Guard { blocked, rule }
    }

    /// When the blocked action is permitted again, if the rule says (contact hours).
    pub fn next_permitted(&self) -> Option<DateTime<Utc>> {
        match self.rule {
            GuardRule::ContactHours { next, .. } => Some(next),
            _ => None,
        }
    }

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
            GuardRule::Bankruptcy => {
                "bankruptcy: the automatic stay allows no collection contact or action".into()
            }
            GuardRule::Deceased => "the customer has died: no collection from the customer".into(),
            GuardRule::DisputePending => {
                "the debt is disputed: no collection action until the dispute is resolved".into()
            }
            GuardRule::CeaseCommunication => {
                "the customer asked that communication cease: no contact except the notices the policy allows".into()
            }
            GuardRule::AttorneyRepresented => {
                "an attorney represents the customer: contact the attorney only".into()
            }
            GuardRule::OptedOut => format!("the customer opted out of {channel}"),
            GuardRule::ContactHours {
                zone,
                start,
                end,
                next,
            } => format!(
                "outside the contact hours {}–{} in {zone}; {channel} contact permitted from {} ({} UTC)",
                start.format("%H:%M"),
                end.format("%H:%M"),
                next.with_timezone(&zone).format("%Y-%m-%d %H:%M %Z"),
                next.format("%Y-%m-%d %H:%M"),
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
            first.get_or_insert(Guard::new(current, rule));
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
