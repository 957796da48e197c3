//! Any bytes as a `ScoreBatch` request (also each `ScoreStream` message), through the server's
//! own path: decoding, per-account validation, the batch feature engine and the model. Every
//! account gets exactly one result, in order: an error entry, or a probability in [0, 1]. The
//! server's hand-written decoder (`service::wire`) must agree with prost on every input, and its
//! hand-written reply (`service::reply`) must be prost's encoding of the same results, byte for
//! byte.

#![no_main]

mod common;

use libfuzzer_sys::fuzz_target;
use payrisk::grpc::proto::v1 as pb;
use prost::Message;

/// The request with its attribute maps sorted (their iteration order is random).
fn canonical(request: &pb::ScoreBatchRequest) -> (Vec<u8>, Vec<Vec<(String, u64)>>) {
    let mut request = request.clone();
    let maps = request.accounts.iter_mut().map(|a| {
        let mut pairs: Vec<_> = a
            .attributes
            .drain()
            .map(|(k, v)| (k, v.to_bits()))
            .collect();
        pairs.sort();
        pairs
    });
    let maps = maps.collect();
    (request.encode_to_vec(), maps)
}

fuzz_target!(|data: &[u8]| {
    let decoded = payrisk::grpc::wire::decode::score_batch_request(data);
    let by_prost = pb::ScoreBatchRequest::decode(data);
    assert_eq!(
        decoded.as_ref().ok().map(canonical),
        by_prost.as_ref().ok().map(canonical),
        "wire: {decoded:?}, prost: {by_prost:?}"
    );
    let Ok(request) = decoded else {
        return;
    };
    let accounts = request.accounts.len();
    match payrisk::grpc::scoring::score_batch(&common::DEPLOYMENT, request) {
        Ok(batch) => {
            let response = payrisk::grpc::convert::batch_response(&batch);
            let reply = payrisk::grpc::wire::encode::BatchReply::encode(&batch);
            assert_eq!(reply.as_bytes(), response.encode_to_vec(), "{response:?}");
            assert_eq!(response.results.len(), accounts);
            for (i, result) in response.results.iter().enumerate() {
                assert_eq!(result.index as usize, i);
                match &result.outcome {
                    Some(pb::score_result::Outcome::Score(r)) => {
                        assert!((0.0..=1.0).contains(&r.repayment_probability), "{r:?}");
                        assert!(r.score.is_finite() && r.priority.is_finite(), "{r:?}");
                    }
                    Some(pb::score_result::Outcome::Error(e)) => {
                        assert!(!e.violations.is_empty(), "{e:?}")
                    }
                    None => panic!("result {i} has no outcome"),
                }
            }
        }
        Err(status) => assert_eq!(status.code(), tonic::Code::InvalidArgument, "{status:?}"),
    }
});
