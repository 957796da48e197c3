//! Compliance holds: what the law or the customer has said stops or redirects an action,
//! whatever the score, the rules above them, the contact caps or an experiment chose.
//!
//! Applied last in [`Policy::decide`], to the action the rules and the contact caps arrived at,
//! in this order (the first four end the decision):
//! 1. Bankruptcy: the automatic stay allows no contact and no action (the policy's
//!    `bankruptcy` action, on channel `none`), priority 0.
//! 2. Deceased: no collection from the customer (`deceased`), priority 0.
//! 3. Dispute pending: no collection action until the dispute is resolved (`dispute_pending`,
//!    on channel `none`), priority 0.
//! 4. Cease communication: no contact except the notices the policy allows
//!    (`cease_communication`), priority 0.
//! 5. Represented by an attorney: contact the attorney only (`attorney_represented`); the
//!    customer's channels, opt-outs and hours no longer apply.
//! 6. Opt-outs: an action on a channel the customer opted out of is replaced along
//!    `opt_out_fallbacks` (channel → action) until a channel the customer has not opted out of;
//!    with none left, the `no_channel` action, priority 0.
//! 7. Contact hours: an action on one of `contact_hours.channels` at a local time (in the
//!    customer's time zone, else `contact_hours.default_time_zone`) outside
//!    [`start`, `end`) waits: the `contact_hours.wait` action, with the next permitted time (the
//!    next `start`, local) in the guard.
//!
//! A hold that applies sets the decision's [`Guard`], replacing a contact cap's: the guard names
//! the last hold applied, the one that set the action, and `blocked` is the action it stopped.
//! A challenger policy cannot declare holds of its own: it inherits the champion's
//! (`serve::deployment`), so an experiment never changes what the law requires.

use std::sync::LazyLock;

use chrono::{DateTime, Duration, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Deserializer};

use super::contact::{Guard, GuardRule};
use super::{check_action, Action};
use crate::domain::Account;
use crate::error::LoadError;

/// The `[compliance]` section of a policy; every key has a default.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ComplianceRules {
    /// What to do during bankruptcy (channel `none`).
    pub bankruptcy: Action,
    /// What to do once the customer has died.
    pub deceased: Action,
    /// What to do while a dispute is pending (channel `none`).
    pub dispute_pending: Action,
    /// What to do after a cease-communication request.
    pub cease_communication: Action,
    /// What to do when an attorney represents the customer.
    pub attorney_represented: Action,
    /// The action replacing one on an opted-out channel, by that channel.
    pub opt_out_fallbacks: std::collections::BTreeMap<String, Action>,
    /// What to do when every channel the fallbacks reach is opted out.
    pub no_channel: Action,
    /// When contact is permitted.
    pub contact_hours: ContactHours,
}

/// Contact hours in the customer's time zone.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ContactHours {
    /// First permitted local time, `HH:MM`.
    #[serde(deserialize_with = "clock_time")]
    pub start: NaiveTime,
    /// First local time no longer permitted, `HH:MM`.
    #[serde(deserialize_with = "clock_time")]
    pub end: NaiveTime,
    /// The channels the hours apply to.
    pub channels: Vec<String>,
    /// The time zone of customers whose own is not given (an IANA name).
    #[serde(deserialize_with = "time_zone")]
    pub default_time_zone: Tz,
    /// What to do outside the hours.
    pub wait: Action,
}

fn action(action: &str, channel: &str) -> Action {
    Action {
        action: action.into(),
        channel: channel.into(),
    }
}

impl Default for ComplianceRules {
    fn default() -> Self {
        ComplianceRules {
            bankruptcy: action("bankruptcy_hold", "none"),
            deceased: action("deceased_review", "none"),
            dispute_pending: action("dispute_hold", "none"),
            cease_communication: action("no_contact", "none"),
            attorney_represented: action("contact_attorney", "letter"),
            opt_out_fallbacks: Default::default(),
            no_channel: action("no_contact", "none"),
            contact_hours: ContactHours::default(),
        }
    }
}

impl Default for ContactHours {
    fn default() -> Self {
        ContactHours {
            start: NaiveTime::from_hms_opt(8, 0, 0).unwrap_or_default(),
            end: NaiveTime::from_hms_opt(21, 0, 0).unwrap_or_default(),
            channels: vec!["phone".into(), "sms".into(), "email".into()],
            default_time_zone: Tz::UTC,
            wait: action("wait", "none"),
        }
    }
}

/// The holds of a policy without a `[compliance]` section.
pub(super) static DEFAULT_RULES: LazyLock<ComplianceRules> = LazyLock::new(Default::default);

fn clock_time<'de, D: Deserializer<'de>>(d: D) -> Result<NaiveTime, D::Error> {
    let text = String::deserialize(d)?;
    NaiveTime::parse_from_str(&text, "%H:%M")
        .map_err(|_| serde::de::Error::custom(format!("`{text}` is not a time of day as HH:MM")))
}

fn time_zone<'de, D: Deserializer<'de>>(d: D) -> Result<Tz, D::Error> {
    let text = String::deserialize(d)?;
    text.parse::<Tz>()
        .map_err(|_| serde::de::Error::custom(format!("`{text}` is not an IANA time zone")))
}

impl ComplianceRules {
    /// Checks the section's rules.
    pub(super) fn validate(&self) -> Result<(), LoadError> {
        for (a, at) in [
            (&self.bankruptcy, "compliance.bankruptcy"),
            (&self.deceased, "compliance.deceased"),
            (&self.dispute_pending, "compliance.dispute_pending"),
            (&self.cease_communication, "compliance.cease_communication"),
            (
                &self.attorney_represented,
                "compliance.attorney_represented",
            ),
            (&self.no_channel, "compliance.no_channel"),
            (&self.contact_hours.wait, "compliance.contact_hours.wait"),
        ] {
            check_action(a, at)?;
        }
        for (a, at, why) in [
            (
                &self.bankruptcy,
                "compliance.bankruptcy",
                "the automatic stay allows no contact",
            ),
            (
                &self.dispute_pending,
                "compliance.dispute_pending",
                "no collection action while a dispute is pending",
            ),
            (
                &self.no_channel,
                "compliance.no_channel",
                "it applies when every channel is opted out",
            ),
            (
                &self.contact_hours.wait,
                "compliance.contact_hours.wait",
                "it applies outside the contact hours",
            ),
        ] {
            if a.channel != "none" {
                return Err(LoadError::invalid(format!(
                    "{at}: the channel must be `none` ({why})"
                )));
            }
        }
        for (channel, a) in &self.opt_out_fallbacks {
            if channel.trim().is_empty() {
                return Err(LoadError::invalid(
                    "compliance.opt_out_fallbacks: channel names must not be empty",
                ));
            }
            check_action(a, "compliance.opt_out_fallbacks")?;
        }
        let hours = &self.contact_hours;
        if hours.start >= hours.end {
            return Err(LoadError::invalid(
                "compliance.contact_hours: start must be before end (hours across midnight are not supported)",
            ));
        }
        if hours.channels.iter().any(|c| c.trim().is_empty()) {
            return Err(LoadError::invalid(
                "compliance.contact_hours.channels: channel names must not be empty",
            ));
        }
        Ok(())
    }

    /// Applies the holds (module docs, in order) to `action`, the choice of the rules and the
    /// contact caps: the action permitted, the guard of the hold that set it (else `guard`), and
    /// whether the hold leaves collectors nothing to do (priority 0).
    pub(super) fn apply<'p>(
        &'p self,
        action: &'p Action,
        guard: Option<Guard<'p>>,
        account: &Account,
        now: DateTime<Utc>,
    ) -> (&'p Action, Option<Guard<'p>>, bool) {
        let c = &account.compliance;
        let stop = |to: &'p Action, rule| (to, Some(Guard::new(action, rule)), true);
        if c.bankruptcy {
            return stop(&self.bankruptcy, GuardRule::Bankruptcy);
        }
        if c.deceased {
            return stop(&self.deceased, GuardRule::Deceased);
        }
        if c.dispute_pending {
            return stop(&self.dispute_pending, GuardRule::DisputePending);
        }
        if c.cease_communication {
            return stop(&self.cease_communication, GuardRule::CeaseCommunication);
        }
        if c.attorney_represented {
            return (
                &self.attorney_represented,
                Some(Guard::new(action, GuardRule::AttorneyRepresented)),
                false,
            );
        }
        let (mut current, mut guard) = (action, guard);
        let opted_out = |channel: &str| c.opted_out.iter().any(|o| o == channel);
        // Each step moves to another channel's fallback; the bound keeps this total whatever
        // the fallbacks form.
        let mut steps = 0;
        while opted_out(&current.channel) {
            let blocked = current;
            steps += 1;
            current = match self.opt_out_fallbacks.get(&blocked.channel) {
                Some(next) if steps <= self.opt_out_fallbacks.len() => next,
                _ => {
                    let rule = GuardRule::OptedOut;
                    return (&self.no_channel, Some(Guard::new(blocked, rule)), true);
                }
            };
            guard = Some(Guard::new(blocked, GuardRule::OptedOut));
        }
        let hours = &self.contact_hours;
        if hours.channels.contains(&current.channel) {
            let zone = c.time_zone.unwrap_or(hours.default_time_zone);
            if let Some(next) = hours.next_permitted(now, zone) {
                let rule = GuardRule::ContactHours {
                    zone,
                    start: hours.start,
                    end: hours.end,
                    next,
                };
                return (&hours.wait, Some(Guard::new(current, rule)), false);
            }
        }
        (current, guard, false)
    }
}

impl ContactHours {
    /// `None` when `now` is within the hours in `zone`, else the next start of the hours.
    pub fn next_permitted(&self, now: DateTime<Utc>, zone: Tz) -> Option<DateTime<Utc>> {
        let local = now.with_timezone(&zone);
        let time = local.time();
        if time >= self.start && time < self.end {
            return None;
        }
        let day = if time < self.start {
            local.date_naive()
        } else {
            local.date_naive() + Duration::days(1)
        };
        let start = day.and_time(self.start);
        // A start inside a daylight-saving gap moves to the first instant after it.
        let next = zone
            .from_local_datetime(&start)
            .earliest()
            .or_else(|| {
                zone.from_local_datetime(&(start + Duration::hours(1)))
                    .earliest()
            })
            .map(|t| t.with_timezone(&Utc));
        Some(next.unwrap_or(now + Duration::hours(1)))
    }
}
