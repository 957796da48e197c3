//! `ScoreBatchResponse`, encoded by hand from a decided [`Batch`]: the reply of `ScoreBatch` and
//! of each `ScoreStream` message.
//!
//! Building the prost message first cost a dozen owned strings per account (ids, band, action,
//! versions, arm) and prost's nested length passes; the encoder below writes the same bytes
//! straight from the decisions, which borrow the deployment. The bytes are exactly prost's
//! encoding of [`crate::grpc::convert::batch_response`] (fields in tag order, proto3 defaults left out,
//! minimal varints): unit tests here, `tests/it/properties.rs` and the `score_batch` fuzz target
//! hold the two to that.
//!
//! A nested message's length comes before its body, so each body is written after room for the
//! length its kind usually needs, and moved only when the length needs more or less room.

use crate::policy::{Decision, Treatment};
use crate::serve::decisions::{Batch, Outcome, ScoredAccount, ShadowScore};

/// An encoded `ScoreBatchResponse` (without gRPC framing). The generated server takes it in
/// place of the prost message (`build.rs`), and the codec copies it out.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BatchReply(Vec<u8>);

impl BatchReply {
    /// Encodes `batch`.
    pub fn encode(batch: &Batch<'_>) -> BatchReply {
        // A scored account without reason codes takes about 250 bytes.
        let mut out = Vec::with_capacity(batch.outcomes.len() * 256 + 16);
        for o in &batch.outcomes {
            message(&mut out, 1, 2, |out| result(out, o));
        }
        uint(&mut out, 2, batch.batch_id);
        BatchReply(out)
    }

    /// The encoded message.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

const VARINT: u32 = 0;
const FIXED64: u32 = 1;
const LEN: u32 = 2;

fn varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn varint_len(v: u64) -> usize {
    // One byte per started group of 7 bits, at least one.
    (64 - (v | 1).leading_zeros() as usize).div_ceil(7)
}

fn key(out: &mut Vec<u8>, field: u32, wire_type: u32) {
    varint(out, u64::from(field << 3 | wire_type));
}

/// A `uint32`/`uint64` field; proto3 leaves out 0.
fn uint(out: &mut Vec<u8>, field: u32, v: u64) {
    if v != 0 {
        key(out, field, VARINT);
        varint(out, v);
    }
}

/// A `double` field; proto3 (and prost) leave out a value equal to 0 (so -0 too, not NaN).
fn double(out: &mut Vec<u8>, field: u32, v: f64) {
    if v != 0.0 {
        key(out, field, FIXED64);
        out.extend_from_slice(&v.to_le_bytes());
    }
}

/// A `string` field; proto3 leaves out "".
fn string(out: &mut Vec<u8>, field: u32, s: &str) {
    if !s.is_empty() {
        key(out, field, LEN);
        varint(out, s.len() as u64);
        out.extend_from_slice(s.as_bytes());
    }
}

/// A message field (written even when empty, as prost writes a present message), its body
/// written by `body` after `room` bytes left for its length.
fn message(out: &mut Vec<u8>, field: u32, room: usize, body: impl FnOnce(&mut Vec<u8>)) {
    key(out, field, LEN);
    let at = out.len();
    out.resize(at + room, 0);
    body(out);
    let len = out.len() - at - room;
    let need = varint_len(len as u64);
    if need != room {
        let end = out.len();
        if need > room {
            out.resize(end + need - room, 0);
        }
        out.copy_within(at + room..end, at + need);
        out.truncate(at + need + len);
    }
    let mut v = len as u64;
    for byte in &mut out[at..at + need] {
        // Every byte but the last has its continuation bit set.
        *byte = (v as u8 & 0x7f) | 0x80;
        v >>= 7;
    }
    out[at + need - 1] &= 0x7f;
}

/// An enum field's value as prost writes it (an `int32`, sign-extended).
fn treatment(t: Treatment) -> u64 {
    i64::from(crate::grpc::convert::treatment(t)) as u64
}

/// `ScoreResult`.
fn result(out: &mut Vec<u8>, o: &Outcome<'_>) {
    uint(out, 1, u64::from(o.index));
    string(out, 2, &o.account_id);
    match &o.result {
        Ok(s) => message(out, 3, 2, |out| response(out, &o.account_id, s)),
        Err(violations) => message(out, 4, 1, |out| {
            for v in violations {
                message(out, 1, 1, |out| {
                    string(out, 1, &v.field);
                    string(out, 2, &v.description);
                });
            }
        }),
    }
}

/// `ScoreResponse`.
fn response(out: &mut Vec<u8>, account_id: &str, s: &ScoredAccount<'_>) {
    let d = &s.decision;
    let model = s.engine.model().artifact();
    string(out, 1, account_id);
    double(out, 2, s.probability);
    double(out, 3, d.score);
    string(out, 4, d.band);
    uint(out, 5, treatment(d.treatment));
    message(out, 6, 1, |out| next_action(out, d));
    double(out, 7, d.priority);
    for r in &s.reasons {
        message(out, 8, 1, |out| reason(out, s, r));
    }
    string(out, 9, &model.name);
    string(out, 10, &model.version);
    string(out, 11, &s.engine.policy().version);
    string(out, 12, s.arm.as_str());
    if let Some(x) = &s.shadow {
        message(out, 13, 2, |out| shadow(out, x));
    }
    // `decision_id`: 32 lowercase hexadecimal digits, written without a String.
    let (hi, lo) = s.decision_id_words(account_id);
    key(out, 14, LEN);
    out.push(32);
    for word in [hi, lo] {
        for shift in (0..16).rev() {
            out.push(b"0123456789abcdef"[((word >> (4 * shift)) & 0xf) as usize]);
        }
    }
    if let (Some(o), Some(m)) = (&s.options, s.engine.model().uplift()) {
        for t in 0..o.len() {
            message(out, 15, 1, |out| {
                string(out, 1, m.name(t));
                double(out, 2, o.probability(t));
                double(out, 3, o.expected_net_recovery(t));
                double(out, 4, m.cost(t));
            });
        }
        string(out, 16, m.name(o.best()));
    }
    for r in &s.uplift_reasons {
        message(out, 17, 1, |out| reason(out, s, r));
    }
}

/// `ReasonCode`.
fn reason(out: &mut Vec<u8>, s: &ScoredAccount<'_>, r: &crate::scoring::Reason) {
    string(out, 1, s.engine.reason_code(r));
    double(out, 2, r.contribution);
    double(out, 3, r.value);
    string(out, 4, &s.engine.reason_text(r));
}

/// `ShadowDecision`.
fn shadow(out: &mut Vec<u8>, s: &ShadowScore<'_>) {
    let d = &s.decision;
    double(out, 1, s.probability);
    string(out, 2, d.band);
    uint(out, 3, treatment(d.treatment));
    message(out, 4, 1, |out| next_action(out, d));
    double(out, 5, d.priority);
    string(out, 6, &s.engine.model().artifact().version);
    string(out, 7, &s.engine.policy().version);
}

/// `NextAction`.
fn next_action(out: &mut Vec<u8>, d: &Decision<'_>) {
    string(out, 1, &d.action.action);
    string(out, 2, &d.action.channel);
    string(out, 3, d.stage);
    string(out, 4, d.rationale.text());
    if let Some(g) = &d.guard {
        message(out, 5, 1, |out| {
            string(out, 1, &g.blocked.action);
            string(out, 2, &g.blocked.channel);
            string(out, 3, g.rule.code());
            string(out, 4, &g.reason());
            if let Some(t) = g.next_permitted() {
                message(out, 5, 1, |out| {
                    // `Timestamp`: int64 seconds as the varint of their two's complement and
                    // nanos, each left out when 0, as prost writes them.
                    #[allow(clippy::cast_sign_loss)]
                    uint(out, 1, t.timestamp() as u64);
                    uint(out, 2, u64::from(t.timestamp_subsec_nanos()));
                });
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varint_lengths_match_the_encoding() {
        for v in [
            0,
            1,
            127,
            128,
            16_383,
            16_384,
            2_097_151,
            2_097_152,
            u64::MAX,
        ] {
            let mut out = Vec::new();
            varint(&mut out, v);
            assert_eq!(varint_len(v), out.len(), "{v}");
        }
    }

    #[test]
    fn nested_bodies_of_every_length_get_minimal_lengths() {
        // Bodies around each varint boundary, with each amount of room left for the length.
        for len in [0, 1, 127, 128, 129, 16_383, 16_384, 16_385] {
            for room in 1..=3 {
                let mut out = vec![0xaa];
                message(&mut out, 7, room, |out| {
                    out.extend((0..len).map(|i| i as u8))
                });
                out.push(0xbb);
                let mut expected = vec![0xaa, 7 << 3 | 2];
                varint(&mut expected, len as u64);
                expected.extend((0..len).map(|i| i as u8));
                expected.push(0xbb);
                assert_eq!(out, expected, "len {len}, room {room}");
            }
        }
    }
}
