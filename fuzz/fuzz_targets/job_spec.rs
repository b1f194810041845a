//! The job-spec parser and validator, and the lowering into a plan: arbitrary UTF-8 into
//! `JobSpec::parse` and, when it parses, `JobPlan::from_spec`. Nothing may panic, and every
//! refusal must say something.

#![no_main]

use std::path::PathBuf;

use cameo_host::{JobPlan, JobSpec, SpecError};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    let spec = match JobSpec::parse(text, "job.toml", PathBuf::from("jobs")) {
        Ok(spec) => spec,
        Err(err) => {
            assert!(
                !err.to_string().trim().is_empty(),
                "an empty error: {err:?}"
            );
            if let SpecError::Invalid { line, message, .. } = &err {
                assert!(
                    !message.trim().is_empty(),
                    "an error without a message: {err:?}"
                );
                let lines = text.matches('\n').count() + 1;
                assert!(*line <= lines, "line {line} of a {lines}-line spec: {err}");
            }
            return;
        }
    };
    // A spec that validates has what every job needs.
    assert!(!spec.name.get_ref().trim().is_empty());
    assert!(!spec.sources.is_empty() && !spec.sinks.is_empty());
    assert_eq!(spec.operators_in_order().len(), spec.operators.len());
    match JobPlan::from_spec(&spec) {
        Ok(plan) => {
            assert_eq!(plan.name(), spec.name.get_ref());
            assert_eq!(plan.tenant(), spec.tenant);
            assert!(!plan.latency_target().is_zero());
        }
        Err(err) => assert!(
            !err.to_string().trim().is_empty(),
            "an empty error: {err:?}"
        ),
    }
});
