//! Hand-written protobuf decoding of `ScoreBatchRequest`, the message every `ScoreBatch` call and
//! every `ScoreStream` message carries.
//!
//! prost's generic decoder spent about 30 % of the server's CPU on streams of 1,000-account
//! messages (`perf`, BENCHMARKS.md): each of the 13 dates and 12 cycles of an account went through
//! several layers of generic merge functions, and the history `Vec` grew by doubling. This module
//! decodes the same bytes into the same generated types (`pb::ScoreBatchRequest`), reading the
//! message as one slice, with one exact allocation per history.
//!
//! It is not a second definition of the contract: the `.proto` file and the prost-generated types
//! stay the only ones, and this decoder must agree with prost on every input. It accepts exactly
//! what prost accepts, with the same result, and rejects what prost rejects: unknown fields and
//! groups are skipped, repeated occurrences of a singular message are merged, the last occurrence
//! of a scalar wins, strings must be UTF-8, and the recursion limit (100) counts the same way.
//! The property tests in `tests/it/properties.rs` check the agreement on valid, damaged and
//! arbitrary protobuf-shaped messages, and the `score_batch` fuzz target (`fuzz/`) on any bytes.

use crate::grpc::proto::v1 as pb;

/// prost's recursion limit: nested messages and groups deeper than this are refused.
pub(super) const RECURSION_LIMIT: u32 = 100;

/// Why a `ScoreBatchRequest` could not be decoded. The server answers with it (as tonic does
/// with prost's own decode errors); the wording differs from prost's, the cases do not. A plain
/// enum, so that results pass in registers on the hot path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    /// A varint longer than 10 bytes, overflowing 64 bits, or cut off.
    #[error("failed to decode ScoreBatchRequest: invalid varint")]
    Varint,
    /// A field key beyond 32 bits, with tag 0, or with wire type 6 or 7.
    #[error("failed to decode ScoreBatchRequest: invalid field key")]
    Key,
    /// A known field sent with another wire type than its declared one.
    #[error("failed to decode ScoreBatchRequest: a field has the wrong wire type")]
    WireType,
    /// A length or fixed-size value running past the end of its message.
    #[error("failed to decode ScoreBatchRequest: buffer underflow")]
    Underflow,
    /// A string field that is not UTF-8.
    #[error("failed to decode ScoreBatchRequest: a string is not UTF-8")]
    Utf8,
    /// Messages or groups nested deeper than the recursion limit.
    #[error("failed to decode ScoreBatchRequest: recursion limit reached")]
    RecursionLimit,
    /// An end-group tag without its start, or not matching it, or a group left open.
    #[error("failed to decode ScoreBatchRequest: unbalanced group")]
    Group,
}

type Result<T> = std::result::Result<T, WireError>;

/// Protobuf wire types.
const VARINT: u8 = 0;
const I64: u8 = 1;
pub(super) const LEN: u8 = 2;
const START_GROUP: u8 = 3;
const END_GROUP: u8 = 4;
const I32: u8 = 5;

/// A cursor over one message's bytes.
pub(super) struct Reader<'a> {
    buf: &'a [u8],
    /// Nesting levels left before the recursion limit (prost's `DecodeContext`).
    depth: u32,
}

impl<'a> Reader<'a> {
    pub(super) fn new(buf: &'a [u8], depth: u32) -> Reader<'a> {
        Reader { buf, depth }
    }

    #[inline(always)]
    pub(super) fn varint(&mut self) -> Result<u64> {
        // Tags, lengths, months and days fit in one byte.
        if let Some((&byte, rest)) = self.buf.split_first() {
            if byte < 0x80 {
                self.buf = rest;
                return Ok(u64::from(byte));
            }
        }
        self.long_varint()
    }

    #[inline(never)]
    fn long_varint(&mut self) -> Result<u64> {
        let mut value = 0u64;
        for (i, &byte) in self.buf.iter().take(10).enumerate() {
            value |= u64::from(byte & 0x7f) << (7 * i);
            if byte < 0x80 {
                // A tenth byte may only carry the top bit of a u64.
                if i == 9 && byte >= 0x02 {
                    break;
                }
                self.buf = &self.buf[i + 1..];
                return Ok(value);
            }
        }
        Err(WireError::Varint)
    }

    /// Consumes `key` if the message goes on with that one-byte field key.
    #[inline(always)]
    fn eat(&mut self, key: u8) -> bool {
        match self.buf.split_first() {
            Some((&first, rest)) if first == key => {
                self.buf = rest;
                true
            }
            _ => false,
        }
    }

    /// The next field's tag and wire type, or none at the end of the message.
    #[inline(always)]
    pub(super) fn key(&mut self) -> Result<Option<(u32, u8)>> {
        if self.buf.is_empty() {
            return Ok(None);
        }
        let key = self.varint()?;
        let key = u32::try_from(key).map_err(|_| WireError::Key)?;
        let wire = (key & 7) as u8;
        if wire > I32 {
            return Err(WireError::Key);
        }
        let tag = key >> 3;
        if tag == 0 {
            return Err(WireError::Key);
        }
        Ok(Some((tag, wire)))
    }

    fn check_wire(&self, wire: u8, expected: u8) -> Result<()> {
        if wire == expected {
            Ok(())
        } else {
            Err(WireError::WireType)
        }
    }

    pub(super) fn take(&mut self, n: u64) -> Result<&'a [u8]> {
        let n = usize::try_from(n)
            .ok()
            .filter(|&n| n <= self.buf.len())
            .ok_or(WireError::Underflow)?;
        let (head, tail) = self.buf.split_at(n);
        self.buf = tail;
        Ok(head)
    }

    #[inline]
    fn uint64(&mut self, wire: u8) -> Result<u64> {
        self.check_wire(wire, VARINT)?;
        self.varint()
    }

    // Truncations below are protobuf's own: an int32 or uint32 is sent as a varint and keeps
    // its low 32 bits, as prost does.
    #[inline]
    #[allow(clippy::cast_possible_truncation)]
    fn uint32(&mut self, wire: u8) -> Result<u32> {
        self.uint64(wire).map(|v| v as u32)
    }

    #[inline]
    #[allow(clippy::cast_possible_truncation)]
    fn int32(&mut self, wire: u8) -> Result<i32> {
        self.uint64(wire).map(|v| v as i32)
    }

    #[inline]
    #[allow(clippy::cast_possible_wrap)]
    fn int64(&mut self, wire: u8) -> Result<i64> {
        self.uint64(wire).map(|v| v as i64)
    }

    fn bool(&mut self, wire: u8) -> Result<bool> {
        self.uint64(wire).map(|v| v != 0)
    }

    #[inline]
    fn double(&mut self, wire: u8) -> Result<f64> {
        self.check_wire(wire, I64)?;
        let bytes = self.take(8)?;
        let mut le = [0u8; 8];
        le.copy_from_slice(bytes);
        Ok(f64::from_le_bytes(le))
    }

    fn string(&mut self, wire: u8, out: &mut String) -> Result<()> {
        self.check_wire(wire, LEN)?;
        let len = self.varint()?;
        let bytes = self.take(len)?;
        let s = std::str::from_utf8(bytes).map_err(|_| WireError::Utf8)?;
        out.clear();
        out.push_str(s);
        Ok(())
    }

    /// A nested message's bytes, with a reader for them one level deeper.
    #[inline]
    fn message(&mut self, wire: u8) -> Result<Reader<'a>> {
        self.check_wire(wire, LEN)?;
        if self.depth == 0 {
            return Err(WireError::RecursionLimit);
        }
        let len = self.varint()?;
        let buf = self.take(len)?;
        Ok(Reader::new(buf, self.depth - 1))
    }

    /// Skips an unknown field (groups included), as prost does.
    fn skip(&mut self, wire: u8, tag: u32, depth: u32) -> Result<()> {
        if depth == 0 {
            return Err(WireError::RecursionLimit);
        }
        let len = match wire {
            VARINT => {
                self.varint()?;
                0
            }
            I64 => 8,
            I32 => 4,
            LEN => self.varint()?,
            START_GROUP => loop {
                let Some((inner, inner_wire)) = self.key()? else {
                    return Err(WireError::Group);
                };
                if inner_wire == END_GROUP {
                    if inner != tag {
                        return Err(WireError::Group);
                    }
                    break 0;
                }
                self.skip(inner_wire, inner, depth - 1)?;
            },
            _ => return Err(WireError::Group),
        };
        self.take(len).map(|_| ())
    }

    /// Skips an unknown field at this message's level.
    pub(super) fn skip_field(&mut self, wire: u8, tag: u32) -> Result<()> {
        self.skip(wire, tag, self.depth)
    }
}

/// Decodes a `ScoreBatchRequest` exactly as `prost::Message::decode` does.
pub fn score_batch_request(bytes: &[u8]) -> Result<pb::ScoreBatchRequest> {
    score_batch_request_for(bytes, count_accounts(bytes))
}

/// [`score_batch_request`], for a message already known to hold `accounts` accounts (as
/// [`super::limits::score_batch_request`] counts them).
pub fn score_batch_request_for(bytes: &[u8], accounts: usize) -> Result<pb::ScoreBatchRequest> {
    let mut r = Reader::new(bytes, RECURSION_LIMIT);
    let mut request = pb::ScoreBatchRequest {
        accounts: Vec::with_capacity(accounts),
        ..Default::default()
    };
    let mut cycles = Vec::new();
    while let Some((tag, wire)) = r.key()? {
        match tag {
            1 => {
                let mut m = r.message(wire)?;
                let mut account = pb::Account::default();
                merge_account(&mut m, &mut account, &mut cycles)?;
                request.accounts.push(account);
            }
            2 => request.max_reasons = Some(r.uint32(wire)?),
            3 => request.batch_id = r.uint64(wire)?,
            4 => {
                let mut m = r.message(wire)?;
                merge_timestamp(
                    &mut m,
                    request.decision_time.get_or_insert_with(Default::default),
                )?;
            }
            _ => r.skip_field(wire, tag)?,
        }
    }
    Ok(request)
}

/// How many `accounts` entries the message holds, to size the vector once; stops counting at
/// anything malformed (the decoder proper reports it).
fn count_accounts(bytes: &[u8]) -> usize {
    let mut r = Reader::new(bytes, RECURSION_LIMIT);
    let mut n = 0;
    while let Ok(Some((tag, wire))) = r.key() {
        let skipped = match wire {
            LEN => r.varint().and_then(|len| r.take(len)).map(|_| ()),
            _ => r.skip_field(wire, tag),
        };
        if skipped.is_err() {
            break;
        }
        n += usize::from(tag == 1 && wire == LEN);
    }
    n
}

/// Merges one `Account` message into `account`; `cycles` is scratch space for its history.
fn merge_account(
    r: &mut Reader<'_>,
    account: &mut pb::Account,
    cycles: &mut Vec<pb::PaymentCycle>,
) -> Result<()> {
    cycles.clear();
    while let Some((tag, wire)) = r.key()? {
        match tag {
            1 => r.string(wire, &mut account.account_id)?,
            2 => merge_date(
                &mut r.message(wire)?,
                account.as_of.get_or_insert_with(Default::default),
            )?,
            3 => merge_profile(
                &mut r.message(wire)?,
                account.profile.get_or_insert_with(Default::default),
            )?,
            4 => {
                let mut cycle = pb::PaymentCycle::default();
                merge_cycle(&mut r.message(wire)?, &mut cycle)?;
                cycles.push(cycle);
            }
            5 => {
                let mut m = r.message(wire)?;
                let (mut key, mut value) = (String::new(), 0.0);
                while let Some((tag, wire)) = m.key()? {
                    match tag {
                        1 => m.string(wire, &mut key)?,
                        2 => value = m.double(wire)?,
                        _ => m.skip_field(wire, tag)?,
                    }
                }
                account.attributes.insert(key, value);
            }
            6 => {
                let mut m = r.message(wire)?;
                let mut contact = pb::ContactAttempt::default();
                while let Some((tag, wire)) = m.key()? {
                    match tag {
                        1 => merge_timestamp(
                            &mut m.message(wire)?,
                            contact.at.get_or_insert_with(Default::default),
                        )?,
                        2 => m.string(wire, &mut contact.channel)?,
                        3 => contact.outcome = m.int32(wire)?,
                        _ => m.skip_field(wire, tag)?,
                    }
                }
                account.contacts.push(contact);
            }
            7 => {
                let mut m = r.message(wire)?;
                let mut promise = pb::PromiseToPay::default();
                while let Some((tag, wire)) = m.key()? {
                    match tag {
                        1 => merge_date(
                            &mut m.message(wire)?,
                            promise.promised_on.get_or_insert_with(Default::default),
                        )?,
                        2 => merge_date(
                            &mut m.message(wire)?,
                            promise.due.get_or_insert_with(Default::default),
                        )?,
                        3 => promise.amount = m.double(wire)?,
                        4 => promise.status = m.int32(wire)?,
                        _ => m.skip_field(wire, tag)?,
                    }
                }
                account.promises.push(promise);
            }
            8 => merge_compliance(
                &mut r.message(wire)?,
                account.compliance.get_or_insert_with(Default::default),
            )?,
            _ => r.skip_field(wire, tag)?,
        }
    }
    // One exact allocation, however the cycles arrived.
    account.history = cycles.clone();
    Ok(())
}

// `merge_date` and `merge_cycle` first read the fields of the usual encoding (in field order,
// each at most once, one-byte keys) straight through, then hand whatever is left, if anything, to
// the general loop. Reading a field the fast way does exactly what the loop does with it, so the
// result is the same for any input; about 13 dates and 12 cycles per account take this path.

#[inline]
fn merge_date(r: &mut Reader<'_>, date: &mut pb::Date) -> Result<()> {
    if r.eat(1 << 3 | VARINT) {
        date.year = r.int32(VARINT)?;
    }
    if r.eat(2 << 3 | VARINT) {
        date.month = r.int32(VARINT)?;
    }
    if r.eat(3 << 3 | VARINT) {
        date.day = r.int32(VARINT)?;
    }
    while let Some((tag, wire)) = r.key()? {
        match tag {
            1 => date.year = r.int32(wire)?,
            2 => date.month = r.int32(wire)?,
            3 => date.day = r.int32(wire)?,
            _ => r.skip_field(wire, tag)?,
        }
    }
    Ok(())
}

#[inline]
fn merge_cycle(r: &mut Reader<'_>, cycle: &mut pb::PaymentCycle) -> Result<()> {
    if r.eat(1 << 3 | LEN) {
        merge_date(
            &mut r.message(LEN)?,
            cycle.statement_date.get_or_insert_with(Default::default),
        )?;
    }
    if r.eat(2 << 3 | I64) {
        cycle.amount_due = r.double(I64)?;
    }
    if r.eat(3 << 3 | I64) {
        cycle.minimum_due = r.double(I64)?;
    }
    if r.eat(4 << 3 | I64) {
        cycle.amount_paid = r.double(I64)?;
    }
    if r.eat(5 << 3 | VARINT) {
        cycle.days_past_due = r.uint32(VARINT)?;
    }
    while let Some((tag, wire)) = r.key()? {
        match tag {
            1 => merge_date(
                &mut r.message(wire)?,
                cycle.statement_date.get_or_insert_with(Default::default),
            )?,
            2 => cycle.amount_due = r.double(wire)?,
            3 => cycle.minimum_due = r.double(wire)?,
            4 => cycle.amount_paid = r.double(wire)?,
            5 => cycle.days_past_due = r.uint32(wire)?,
            _ => r.skip_field(wire, tag)?,
        }
    }
    Ok(())
}

fn merge_profile(r: &mut Reader<'_>, p: &mut pb::CreditProfile) -> Result<()> {
    while let Some((tag, wire)) = r.key()? {
        match tag {
            1 => p.credit_limit = r.double(wire)?,
            2 => p.current_balance = r.double(wire)?,
            3 => p.months_on_book = r.uint32(wire)?,
            4 => p.open_credit_lines = r.uint32(wire)?,
            5 => p.prior_delinquencies = r.uint32(wire)?,
            6 => p.bureau_score = Some(r.double(wire)?),
            7 => p.annual_income = Some(r.double(wire)?),
            8 => p.hardship = r.bool(wire)?,
            9 => p.credit_limit_unknown = r.bool(wire)?,
            10 => p.current_balance_unknown = r.bool(wire)?,
            11 => p.months_on_book_unknown = r.bool(wire)?,
            12 => p.hardship_unknown = r.bool(wire)?,
            _ => r.skip_field(wire, tag)?,
        }
    }
    Ok(())
}

fn merge_compliance(r: &mut Reader<'_>, c: &mut pb::Compliance) -> Result<()> {
    while let Some((tag, wire)) = r.key()? {
        match tag {
            1 => c.cease_communication = r.bool(wire)?,
            2 => c.dispute_pending = r.bool(wire)?,
            3 => c.bankruptcy = r.bool(wire)?,
            4 => c.attorney_represented = r.bool(wire)?,
            5 => c.deceased = r.bool(wire)?,
            6 => {
                let mut channel = String::new();
                r.string(wire, &mut channel)?;
                c.opted_out_channels.push(channel);
            }
            7 => r.string(wire, &mut c.time_zone)?,
            _ => r.skip_field(wire, tag)?,
        }
    }
    Ok(())
}

fn merge_timestamp(r: &mut Reader<'_>, t: &mut prost_types::Timestamp) -> Result<()> {
    while let Some((tag, wire)) = r.key()? {
        match tag {
            1 => t.seconds = r.int64(wire)?,
            2 => t.nanos = r.int32(wire)?,
            _ => r.skip_field(wire, tag)?,
        }
    }
    Ok(())
}
