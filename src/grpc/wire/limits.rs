//! Counts refused before decoding: a request may carry at most 10,000 accounts
//! ([`MAX_BATCH_ACCOUNTS`]), and an account at most 60 payment cycles, 256 attribute entries,
//! 512 contact attempts, 64 promises and 16 opted-out channels (the `domain` limits).
//!
//! Why before: an empty protobuf entry costs two bytes on the wire and about a hundred once
//! decoded, so a message within the size cap can hold millions of entries. A 31 MiB `ScoreBatch`
//! of 16 million empty accounts took the server to 3.6 GiB before the size checks ran. The scan
//! here walks the message's keys and lengths without allocating and stops at the first count over
//! its limit, so such a message is refused after reading a few kilobytes of it.
//!
//! Rules, in order:
//! 1. Entries are counted as they occur on the wire: an attribute key sent twice counts twice,
//!    and the occurrences of a singular `account` (which protobuf merges into one) add up.
//! 2. The first count over its limit, in message order, is the one reported, with its field path
//!    (`accounts`, `accounts[3].history`, `account.contacts`).
//! 3. The scan stops without a verdict at anything malformed; the decoder that follows reports
//!    it. Everything the scan passed stays within the limits, so the decoder allocates at most
//!    what the limits allow before it reaches the damage.
//! 4. Both decoding paths, prost's (`Score`) and the hand decoder (`ScoreBatch`, `ScoreStream`),
//!    run the same scan first.

use super::decode::{Reader, LEN, RECURSION_LIMIT};
use crate::domain::{
    Violation, MAX_ATTRIBUTES, MAX_CONTACTS, MAX_HISTORY_CYCLES, MAX_OPT_OUTS, MAX_PROMISES,
};

/// Most accounts in one `ScoreBatch` request or `ScoreStream` message.
pub const MAX_BATCH_ACCOUNTS: usize = 10_000;

/// A repeated field with a limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Repeated {
    /// `ScoreBatchRequest.accounts`.
    Accounts,
    /// `Account.history`.
    History,
    /// `Account.attributes`.
    Attributes,
    /// `Account.contacts`.
    Contacts,
    /// `Account.promises`.
    Promises,
    /// `Account.compliance.opted_out_channels`.
    OptOuts,
}

impl Repeated {
    /// The field's name in the contract.
    pub fn name(self) -> &'static str {
        match self {
            Repeated::Accounts => "accounts",
            Repeated::History => "history",
            Repeated::Attributes => "attributes",
            Repeated::Contacts => "contacts",
            Repeated::Promises => "promises",
            Repeated::OptOuts => "compliance.opted_out_channels",
        }
    }

    /// Most entries accepted.
    pub fn limit(self) -> usize {
        match self {
            Repeated::Accounts => MAX_BATCH_ACCOUNTS,
            Repeated::History => MAX_HISTORY_CYCLES,
            Repeated::Attributes => MAX_ATTRIBUTES,
            Repeated::Contacts => MAX_CONTACTS,
            Repeated::Promises => MAX_PROMISES,
            Repeated::OptOuts => MAX_OPT_OUTS,
        }
    }

    /// The field of `Account` with this number, if it has a limit.
    fn of_account(tag: u32) -> Option<Repeated> {
        match tag {
            4 => Some(Repeated::History),
            5 => Some(Repeated::Attributes),
            6 => Some(Repeated::Contacts),
            7 => Some(Repeated::Promises),
            8 => Some(Repeated::OptOuts),
            _ => None,
        }
    }
}

/// Which account a count belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Owner {
    /// The request itself (`ScoreBatchRequest.accounts`).
    Request,
    /// `ScoreRequest.account`.
    Account,
    /// `ScoreBatchRequest.accounts[i]`.
    Batch(u32),
}

/// A count over its limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Excess {
    /// Whose field.
    pub owner: Owner,
    /// Which field.
    pub field: Repeated,
}

impl Excess {
    /// The field violation the caller gets.
    pub fn violation(&self) -> Violation {
        let name = self.field.name();
        let field = match self.owner {
            Owner::Request => name.to_owned(),
            Owner::Account => format!("account.{name}"),
            Owner::Batch(i) => format!("accounts[{i}].{name}"),
        };
        let limit = self.field.limit();
        Violation {
            field,
            description: format!(
                "has more than {limit} entries; at most {limit} are accepted (refused before decoding)"
            ),
        }
    }
}

/// Checks a `ScoreBatchRequest`'s counts; returns how many accounts it holds (as far as the
/// scan could read).
pub fn score_batch_request(bytes: &[u8]) -> Result<usize, Excess> {
    let mut r = Reader::new(bytes, RECURSION_LIMIT);
    let mut accounts = 0usize;
    while let Ok(Some((tag, wire))) = r.key() {
        if tag == 1 && wire == LEN {
            let Ok(account) = r.varint().and_then(|len| r.take(len)) else {
                break;
            };
            if accounts == MAX_BATCH_ACCOUNTS {
                return Err(Excess {
                    owner: Owner::Request,
                    field: Repeated::Accounts,
                });
            }
            let owner = Owner::Batch(u32::try_from(accounts).unwrap_or(u32::MAX));
            account_counts(account, owner, &mut [0; 5])?;
            accounts += 1;
        } else if r.skip_field(wire, tag).is_err() {
            break;
        }
    }
    Ok(accounts)
}

/// Checks a `ScoreRequest`'s counts, summed over every occurrence of its `account`.
pub fn score_request(bytes: &[u8]) -> Result<(), Excess> {
    let mut r = Reader::new(bytes, RECURSION_LIMIT);
    let mut counts = [0; 5];
    while let Ok(Some((tag, wire))) = r.key() {
        if tag == 1 && wire == LEN {
            let Ok(account) = r.varint().and_then(|len| r.take(len)) else {
                break;
            };
            account_counts(account, Owner::Account, &mut counts)?;
        } else if r.skip_field(wire, tag).is_err() {
            break;
        }
    }
    Ok(())
}

/// Adds one `Account` message's entries to `counts` (history, attributes, contacts, promises,
/// opted-out channels).
#[inline]
fn account_counts(bytes: &[u8], owner: Owner, counts: &mut [usize; 5]) -> Result<(), Excess> {
    let mut r = Reader::new(bytes, RECURSION_LIMIT - 1);
    while let Ok(Some((tag, wire))) = r.key() {
        if wire == LEN {
            let Ok(field_bytes) = r.varint().and_then(|len| r.take(len)) else {
                break;
            };
            match Repeated::of_account(tag) {
                // The compliance message is singular; its opted-out channels are counted.
                Some(field @ Repeated::OptOuts) => {
                    let mut inner = Reader::new(field_bytes, RECURSION_LIMIT - 2);
                    while let Ok(Some((tag, wire))) = inner.key() {
                        if tag == 6 && wire == LEN {
                            count(&mut counts[4], field, owner)?;
                        }
                        let skipped = if wire == LEN {
                            inner.varint().and_then(|len| inner.take(len)).map(|_| ())
                        } else {
                            inner.skip_field(wire, tag)
                        };
                        if skipped.is_err() {
                            break;
                        }
                    }
                }
                Some(field) => count(&mut counts[(tag - 4) as usize], field, owner)?,
                None => {}
            }
        } else if r.skip_field(wire, tag).is_err() {
            break;
        }
    }
    Ok(())
}

/// One more entry of `field`, refused past its limit.
#[inline]
fn count(n: &mut usize, field: Repeated, owner: Owner) -> Result<(), Excess> {
    if *n == field.limit() {
        return Err(Excess { owner, field });
    }
    *n += 1;
    Ok(())
}

#[cfg(test)]
mod tests {
    use prost::Message;

    use super::*;
    use crate::grpc::proto::v1 as pb;

    fn batch(accounts: Vec<pb::Account>) -> Vec<u8> {
        pb::ScoreBatchRequest {
            accounts,
            ..Default::default()
        }
        .encode_to_vec()
    }

    #[test]
    fn counts_at_their_limits_pass_and_one_more_is_refused_with_its_path() {
        // Pins each limit exactly, and the field path of the first excess in message order.
        let full = pb::Account {
            history: vec![pb::PaymentCycle::default(); MAX_HISTORY_CYCLES],
            attributes: (0..MAX_ATTRIBUTES).map(|i| (i.to_string(), 1.0)).collect(),
            contacts: vec![pb::ContactAttempt::default(); MAX_CONTACTS],
            promises: vec![pb::PromiseToPay::default(); MAX_PROMISES],
            compliance: Some(pb::Compliance {
                opted_out_channels: vec!["sms".into(); MAX_OPT_OUTS],
                ..Default::default()
            }),
            ..Default::default()
        };
        assert_eq!(score_batch_request(&batch(vec![full.clone(); 3])), Ok(3));
        let one_more: [fn(&mut pb::Account); 5] = [
            |a| a.history.push(pb::PaymentCycle::default()),
            |a| {
                a.attributes.insert("extra".into(), 0.0);
            },
            |a| a.contacts.push(pb::ContactAttempt::default()),
            |a| a.promises.push(pb::PromiseToPay::default()),
            |a| {
                if let Some(c) = a.compliance.as_mut() {
                    c.opted_out_channels.push("email".into());
                }
            },
        ];
        for (add, field) in one_more.iter().zip([
            Repeated::History,
            Repeated::Attributes,
            Repeated::Contacts,
            Repeated::Promises,
            Repeated::OptOuts,
        ]) {
            let mut over = full.clone();
            add(&mut over);
            let excess =
                score_batch_request(&batch(vec![full.clone(), over.clone(), over.clone()]));
            let expected = Excess {
                owner: Owner::Batch(1),
                field,
            };
            assert_eq!(excess, Err(expected));
            assert_eq!(
                expected.violation().field,
                format!("accounts[1].{}", field.name())
            );
            let single = pb::ScoreRequest {
                account: Some(over),
                ..Default::default()
            };
            let excess = score_request(&single.encode_to_vec()).unwrap_err();
            assert_eq!(
                excess.violation().field,
                format!("account.{}", field.name())
            );
        }
    }

    #[test]
    fn millions_of_empty_entries_are_refused_after_a_few_kilobytes() {
        // Pins the amplification case: two-byte empty entries are counted, not decoded.
        let empty_accounts = [0x0a, 0x00].repeat(1_000_000);
        assert_eq!(
            score_batch_request(&empty_accounts),
            Err(Excess {
                owner: Owner::Request,
                field: Repeated::Accounts
            })
        );
        assert_eq!(score_batch_request(&empty_accounts[..20_000]), Ok(10_000));
        // One account of a million empty cycles, sent as the single account of `Score`.
        let cycles = [0x22, 0x00].repeat(1_000_000);
        let mut single = vec![0x0a];
        prost::encoding::encode_varint(cycles.len() as u64, &mut single);
        single.extend_from_slice(&cycles);
        assert_eq!(
            score_request(&single).map_err(|e| e.violation().field),
            Err("account.history".to_owned())
        );
    }

    #[test]
    fn occurrences_of_the_single_account_add_up() {
        // Pins rule 1: protobuf merges repeated `account` fields, so their entries are summed.
        let part = pb::ScoreRequest {
            account: Some(pb::Account {
                history: vec![pb::PaymentCycle::default(); 40],
                ..Default::default()
            }),
            ..Default::default()
        }
        .encode_to_vec();
        assert_eq!(score_request(&part), Ok(()));
        let twice = [part.clone(), part].concat();
        assert_eq!(
            pb::ScoreRequest::decode(twice.as_slice()).map(|r| r.account.map(|a| a.history.len())),
            Ok(Some(80))
        );
        assert!(score_request(&twice).is_err());
    }

    #[test]
    fn malformed_messages_are_left_to_the_decoder() {
        // Pins rule 3: the scan gives no verdict on damage it cannot read past.
        assert_eq!(score_batch_request(&[0x0a, 0x05, 0x0a]), Ok(0));
        assert_eq!(score_batch_request(&[0xff; 12]), Ok(0));
        assert_eq!(score_request(&[0x0a, 0x7f]), Ok(()));
    }
}
