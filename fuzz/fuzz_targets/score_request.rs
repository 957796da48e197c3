//! Any bytes as a `Score` request, through the server's own path: protobuf decoding,
//! validation, the feature engine, the model and the policy. A request is either refused with
//! `INVALID_ARGUMENT` or answered with a probability in [0, 1] and finite numbers.

#![no_main]

mod common;

use libfuzzer_sys::fuzz_target;
use payrisk::grpc::proto::v1 as pb;
use prost::Message;

fuzz_target!(|data: &[u8]| {
    let Ok(request) = pb::ScoreRequest::decode(data) else {
        return;
    };
    match payrisk::grpc::scoring::score_request(&common::DEPLOYMENT, request) {
        Ok(r) => {
            assert!((0.0..=1.0).contains(&r.repayment_probability), "{r:?}");
            assert!(r.score.is_finite() && r.priority.is_finite(), "{r:?}");
            assert!(!r.risk_band.is_empty(), "{r:?}");
        }
        Err(status) => assert_eq!(status.code(), tonic::Code::InvalidArgument, "{status:?}"),
    }
});
