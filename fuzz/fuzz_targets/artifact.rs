//! Any bytes as a model artifact, through the loader the server uses at start and at reload:
//! JSON parsing, the artifact's validation rules and the model's construction. An artifact is
//! refused with an error, or it loads and then scores ordinary accounts with a probability in
//! [0, 1]: validation must not let through a model that cannot serve.

#![no_main]

mod common;

use libfuzzer_sys::fuzz_target;
use payrisk::model::{Artifact, Model};
use payrisk::scoring::Engine;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(artifact) = Artifact::from_json(text) else {
        return;
    };
    let Ok(model) = Model::from_artifact(artifact) else {
        return;
    };
    let engine = Engine::new(model, common::POLICY.clone());
    let mut scratch = engine.scratch();
    for account in common::ACCOUNTS.iter() {
        let scored = engine.score(account, 4, common::now(), &mut scratch);
        assert!(
            (0.0..=1.0).contains(&scored.probability),
            "{}",
            scored.probability
        );
        assert!(scored.decision.priority.is_finite());
    }
});
