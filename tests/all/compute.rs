//! The `compute` guest against the same kernels compiled natively: for the same event bytes
//! it emits exactly what `compute-kernel` computes in this test binary, so `cameo bench
//! overhead` compares Wasm with native on the same work.

use cameo_tests::guests;
use compute_kernel::Kernel;

use crate::support::{options, parse, run};

/// generator events (with a payload) into a memory sink `raw`, and through `compute` with
/// `config` into a memory sink `out`.
fn job(dir: &std::path::Path, config: &str) -> cameo_host::JobSpec {
    parse(
        &format!(
            r#"
name = "compute"
[[source]]
name = "seq"
kind = "generator"
mode = "exact"
count = 40
keys = 3
event_rate = 1000
payload_bytes = 61
[[operator]]
name = "op"
module = {module:?}
inputs = ["seq"]
config = {config}
[[sink]]
name = "raw"
kind = "memory"
inputs = ["seq"]
[[sink]]
name = "out"
kind = "memory"
inputs = ["op"]
"#,
            module = guests::COMPUTE,
        ),
        dir,
    )
}

#[test]
fn the_guest_computes_what_the_native_kernel_computes_on_the_same_bytes() {
    let dir = tempfile::tempdir().unwrap();
    for (kernel, rounds) in [(Kernel::Checksum, 7), (Kernel::Matrix, 50)] {
        let config = format!("{{ kernel = \"{}\", rounds = {rounds} }}", kernel.name());
        let outcome = run(&job(dir.path(), &config), &options());
        assert_eq!(outcome.summary.errors, 0, "{:?}", outcome.summary);
        let raw = &outcome.outputs["raw"];
        let out = &outcome.outputs["out"];
        assert_eq!(raw.len(), 40);
        assert_eq!(out.len(), raw.len());
        let mut distinct = std::collections::BTreeSet::new();
        for (input, output) in raw.iter().zip(out) {
            let native = format!("{:016x}", kernel.run(&input.value, rounds));
            assert_eq!(
                String::from_utf8_lossy(&output.value),
                native,
                "{} over {:?}",
                kernel.name(),
                String::from_utf8_lossy(&input.value)
            );
            assert_eq!(output.key, input.key);
            assert_eq!(output.event_time, input.event_time);
            distinct.insert(native);
        }
        // Every event's bytes differ, and so does every result.
        assert_eq!(distinct.len(), 40, "{}", kernel.name());
    }
}

#[test]
fn a_bad_kernel_or_round_count_is_refused_saying_what_to_use() {
    let dir = tempfile::tempdir().unwrap();
    for (config, expected) in [
        (
            r#"{ kernel = "sha" }"#,
            r#"config `kernel` is "sha", which is no kernel; use "checksum" or "matrix""#,
        ),
        (
            "{ rounds = 0 }",
            "config `rounds` is 0; use a number from 1 to 4294967295",
        ),
        (
            "{ rounds = 4294967296 }",
            "config `rounds` is 4294967296; use a number from 1 to 4294967295",
        ),
    ] {
        let error = cameo_host::run_job(&job(dir.path(), config), &options())
            .err()
            .unwrap_or_else(|| panic!("{config} was accepted"))
            .to_string();
        assert!(error.contains(expected), "{config}: {error}");
    }
}
