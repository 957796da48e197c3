//! Any bytes as a treatment policy, through the parser and validation the server uses at start
//! and at reload. A policy is refused with an error, or it loads and then decides ordinary
//! accounts with finite scores and priorities and a band, stage and action from the policy.

#![no_main]

mod common;

use libfuzzer_sys::fuzz_target;
use payrisk::policy::Policy;
use payrisk::scoring::Engine;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(policy) = Policy::from_toml(text) else {
        return;
    };
    let engine = Engine::new(common::LOGISTIC.clone(), policy);
    let mut scratch = engine.scratch();
    for account in common::ACCOUNTS.iter() {
        let scored = engine.score(account, 4, common::now(), &mut scratch);
        let d = &scored.decision;
        assert!(d.score.is_finite() && d.priority.is_finite(), "{d:?}");
        assert!(!d.band.is_empty() && !d.stage.is_empty(), "{d:?}");
    }
});
