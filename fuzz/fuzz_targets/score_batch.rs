//! Any bytes as a `ScoreBatch` request (also each `ScoreStream` message), through the server's
//! own path: decoding, per-account validation, the batch feature engine and the model. Every
//! account gets exactly one result, in order: an error entry, or a probability in [0, 1].

#![no_main]

mod common;

use libfuzzer_sys::fuzz_target;
use payrisk::proto::v1 as pb;
use prost::Message;

fuzz_target!(|data: &[u8]| {
    let Ok(request) = pb::ScoreBatchRequest::decode(data) else {
        return;
    };
    let accounts = request.accounts.len();
    match payrisk::service::score_batch(&common::DEPLOYMENT, request) {
        Ok(response) => {
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
