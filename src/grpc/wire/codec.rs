//! The scoring service's gRPC codec: prost's encoder (batch replies arrive already encoded,
//! [`super::encode::BatchReply`]), and a decoder that reads each message from
//! one contiguous byte slice. tonic hands over a message whole in its buffer; decoding it as a
//! plain slice advances a pointer per field instead of a `BytesMut`, whose bookkeeping took about
//! 7 % of the server's time on streams of 1,000-account messages (`perf`). `ScoreBatchRequest`,
//! the message of `ScoreBatch` and `ScoreStream`, is decoded by hand (`super::decode`); every other
//! message by prost. Requests that carry accounts pass `super::limits` first.

use std::marker::PhantomData;

use prost::bytes::{Buf, BufMut};
use prost::Message;
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::Status;

use super::encode::BatchReply;
use super::{decode, limits};
use crate::domain::Violation;
use crate::grpc::proto::v1 as pb;

/// prost (or pre-encoded) encoding, slice decoding. Wired into the generated services by
/// `build.rs`.
#[derive(Debug, Clone, Copy)]
pub struct SliceCodec<T, U>(PhantomData<(T, U)>);

impl<T, U> Default for SliceCodec<T, U> {
    fn default() -> Self {
        SliceCodec(PhantomData)
    }
}

impl<T, U> Codec for SliceCodec<T, U>
where
    T: WireEncode + Send + 'static,
    U: WireDecode + Send + 'static,
{
    type Encode = T;
    type Decode = U;
    type Encoder = WireEncoder<T>;
    type Decoder = SliceDecoder<U>;

    fn encoder(&mut self) -> Self::Encoder {
        WireEncoder(PhantomData)
    }

    fn decoder(&mut self) -> Self::Decoder {
        SliceDecoder(PhantomData)
    }
}

/// Encodes `T` into tonic's buffer.
#[derive(Debug, Clone, Copy)]
pub struct WireEncoder<T>(PhantomData<T>);

impl<T: WireEncode> Encoder for WireEncoder<T> {
    type Item = T;
    type Error = Status;

    fn encode(&mut self, item: T, buf: &mut EncodeBuf<'_>) -> Result<(), Status> {
        item.encode_into(buf)
    }
}

/// How a message the services send (responses on the server, requests on the client) is
/// encoded: by prost, or copied when it is already encoded.
pub trait WireEncode: Sized {
    /// Appends the message's bytes (without gRPC framing) to `buf`.
    fn encode_into(self, buf: &mut EncodeBuf<'_>) -> Result<(), Status>;
}

impl<T: Message> WireEncode for T {
    fn encode_into(self, buf: &mut EncodeBuf<'_>) -> Result<(), Status> {
        // tonic's buffer grows as needed, so prost cannot run out of room.
        self.encode(buf)
            .map_err(|e| Status::internal(format!("cannot encode the message: {e}")))
    }
}

impl WireEncode for BatchReply {
    fn encode_into(self, buf: &mut EncodeBuf<'_>) -> Result<(), Status> {
        buf.put_slice(self.as_bytes());
        Ok(())
    }
}

/// Decodes `U` from the message's bytes as one slice.
#[derive(Debug, Clone, Copy)]
pub struct SliceDecoder<U>(PhantomData<U>);

impl<U: WireDecode> Decoder for SliceDecoder<U> {
    type Item = U;
    type Error = Status;

    fn decode(&mut self, buf: &mut DecodeBuf<'_>) -> Result<Option<U>, Status> {
        // Splitting the message off tonic's buffer is O(1): no copy.
        let bytes = buf.copy_to_bytes(buf.remaining());
        U::decode_slice(bytes.as_ref()).map(Some)
    }
}

/// How a message the services receive (requests on the server, responses on the client) is
/// decoded from one slice. A request that cannot be decoded is the caller's error:
/// `INVALID_ARGUMENT` with a `google.rpc.BadRequest` whose one violation has an empty field (the
/// message as a whole) and the decoder's words. A response that cannot be decoded is `INTERNAL`,
/// as with tonic's own prost codec.
pub trait WireDecode: Sized {
    /// Decodes a whole message.
    fn decode_slice(bytes: &[u8]) -> Result<Self, Status>;
}

impl WireDecode for pb::ScoreBatchRequest {
    fn decode_slice(bytes: &[u8]) -> Result<Self, Status> {
        let accounts = limits::score_batch_request(bytes).map_err(too_many)?;
        decode::score_batch_request_for(bytes, accounts).map_err(|e| undecodable_request(&e))
    }
}

impl WireDecode for pb::ScoreRequest {
    fn decode_slice(bytes: &[u8]) -> Result<Self, Status> {
        limits::score_request(bytes).map_err(too_many)?;
        <pb::ScoreRequest as Message>::decode(bytes).map_err(|e| undecodable_request(&e))
    }
}

/// A request with more entries than a limit allows, as `INVALID_ARGUMENT` naming the field.
fn too_many(excess: limits::Excess) -> Status {
    crate::grpc::status::invalid_argument(vec![excess.violation()])
}

/// A request the server cannot decode, as `INVALID_ARGUMENT`.
fn undecodable_request(error: &dyn std::fmt::Display) -> Status {
    crate::grpc::status::invalid_argument(vec![Violation {
        field: String::new(),
        description: format!("the message cannot be decoded: {error}"),
    }])
}

/// Messages decoded by prost: requests (`INVALID_ARGUMENT` when undecodable) and responses
/// (`INTERNAL`).
macro_rules! prost_decoded {
    (requests: $($request:ty),* ; responses: $($response:ty),* $(,)?) => {
        $(impl WireDecode for $request {
            fn decode_slice(bytes: &[u8]) -> Result<Self, Status> {
                <$request as Message>::decode(bytes).map_err(|e| undecodable_request(&e))
            }
        })*
        $(impl WireDecode for $response {
            fn decode_slice(bytes: &[u8]) -> Result<Self, Status> {
                <$response as Message>::decode(bytes).map_err(|e| Status::internal(e.to_string()))
            }
        })*
    };
}

prost_decoded!(
    requests: pb::GetModelInfoRequest, pb::ReloadRequest, pb::GetDriftRequest;
    responses: pb::ScoreResponse, pb::ScoreBatchResponse, pb::ModelInfo, pb::DriftReport,
);
