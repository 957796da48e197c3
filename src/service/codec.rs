//! The scoring service's gRPC codec: prost's encoder, and a decoder that reads each message from
//! one contiguous byte slice. tonic hands over a message whole in its buffer; decoding it as a
//! plain slice advances a pointer per field instead of a `BytesMut`, whose bookkeeping took about
//! 7 % of the server's time on streams of 1,000-account messages (`perf`). `ScoreBatchRequest`,
//! the message of `ScoreBatch` and `ScoreStream`, is decoded by hand (`super::wire`); every other
//! message by prost.

use std::marker::PhantomData;

use prost::bytes::Buf;
use prost::Message;
use tonic::codec::{Codec, DecodeBuf, Decoder};
use tonic::Status;

use super::wire;
use crate::proto::v1 as pb;

/// prost encoding, slice decoding. Wired into the generated service by `build.rs`.
#[derive(Debug, Clone, Copy)]
pub struct SliceCodec<T, U>(PhantomData<(T, U)>);

impl<T, U> Default for SliceCodec<T, U> {
    fn default() -> Self {
        SliceCodec(PhantomData)
    }
}

impl<T, U> Codec for SliceCodec<T, U>
where
    T: Message + Send + 'static,
    U: WireDecode + Send + 'static,
{
    type Encode = T;
    type Decode = U;
    type Encoder = tonic_prost::ProstEncoder<T>;
    type Decoder = SliceDecoder<U>;

    fn encoder(&mut self) -> Self::Encoder {
        tonic_prost::ProstEncoder::default()
    }

    fn decoder(&mut self) -> Self::Decoder {
        SliceDecoder(PhantomData)
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
/// decoded from one slice. Decode errors become `INTERNAL`, as with tonic's own prost codec.
pub trait WireDecode: Sized {
    /// Decodes a whole message.
    fn decode_slice(bytes: &[u8]) -> Result<Self, Status>;
}

impl WireDecode for pb::ScoreBatchRequest {
    fn decode_slice(bytes: &[u8]) -> Result<Self, Status> {
        wire::score_batch_request(bytes).map_err(|e| Status::internal(e.to_string()))
    }
}

/// Messages decoded by prost.
macro_rules! prost_decoded {
    ($($message:ty),* $(,)?) => {$(
        impl WireDecode for $message {
            fn decode_slice(bytes: &[u8]) -> Result<Self, Status> {
                <$message as Message>::decode(bytes).map_err(|e| Status::internal(e.to_string()))
            }
        }
    )*};
}

prost_decoded!(
    pb::ScoreRequest,
    pb::ScoreResponse,
    pb::ScoreBatchResponse,
    pb::GetModelInfoRequest,
    pb::ModelInfo,
    pb::ReloadRequest,
    pb::GetDriftRequest,
    pb::DriftReport,
);
