//! Hostile and buggy operators fail only their own call; the job goes on.

use cameo_tests::guests;

use crate::support::{one_operator_job, options, run, values};

const INPUT: &[&str] = &["a", "b", "BAD", "c", "d"];

/// Runs `module` over INPUT with "BAD" replaced by `trigger`, and checks that every other
/// event came through and that one call failed with a reason containing `reason`.
fn fails_only_the_bad_event(module: &str, config: &str, trigger: &str, reason: &str) {
    let mut options = options();
    // Small enough that a hog reaches it long before its fuel runs out.
    options.limits.memory_bytes = 8 << 20;
    let dir = tempfile::tempdir().unwrap();
    let input: Vec<&str> = INPUT
        .iter()
        .map(|v| if *v == "BAD" { trigger } else { v })
        .collect();
    let spec = one_operator_job(dir.path(), module, config, &input);
    let outcome = run(&spec, &options);
    assert_eq!(
        values(&outcome, "out"),
        ["a", "b", "c", "d"],
        "{:?}",
        outcome.summary
    );
    assert_eq!(outcome.summary.errors, 1, "{:?}", outcome.summary);
    let sample = &outcome.summary.error_samples[0];
    assert!(sample.contains(reason), "{sample}");
    assert!(sample.starts_with("test/op: "), "{sample}");
    let stats = &outcome.summary.operators["test/op"];
    assert_eq!(stats.errors, 1);
    assert!(
        stats.calls >= 2,
        "a failed batch is retried event by event: {stats:?}"
    );
}

#[test]
fn a_looping_operator_runs_out_of_fuel_and_the_job_finishes() {
    fails_only_the_bad_event(guests::LOOPER, "{}", "loop", "ran out of fuel");
}

#[test]
fn an_operator_growing_memory_without_bound_hits_the_memory_cap() {
    fails_only_the_bad_event(guests::MEMORY_HOG, "{}", "grow", "memory cap exceeded");
}

#[test]
fn a_trapping_operator_fails_only_the_event_that_made_it_trap() {
    fails_only_the_bad_event(guests::TRAPPER, "{ trap_on = \"boom\" }", "boom", "trapped");
}

#[test]
fn a_trap_does_not_lose_committed_state_nor_keep_the_failed_calls_writes() {
    // wordcount keeps counts in host state; the trapper cannot count, so use a two-operator
    // job: counts before and after a trap in the same instance come from wordcount's state,
    // which must survive the trapper's failures upstream untouched.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("input.txt"), "x\nboom\nx\nx").unwrap();
    let toml = format!(
        r#"
name = "test"
[[source]]
name = "in"
kind = "file"
path = "input.txt"
[[operator]]
name = "guard"
module = {}
inputs = ["in"]
config = {{ trap_on = "boom" }}
[[operator]]
name = "count"
module = {}
inputs = ["guard"]
[[sink]]
name = "out"
kind = "memory"
inputs = ["count"]
"#,
        crate::support::toml_path(guests::TRAPPER),
        crate::support::toml_path(guests::WORDCOUNT)
    );
    let spec = crate::support::parse(&toml, dir.path());
    let outcome = run(&spec, &options());
    let counts: Vec<u64> = values(&outcome, "out")
        .iter()
        .map(|v| {
            serde_json::from_str::<serde_json::Value>(v).unwrap()["count"]
                .as_u64()
                .unwrap()
        })
        .collect();
    assert_eq!(counts, [1, 2, 3]);
    assert_eq!(outcome.summary.errors, 1);
}

#[test]
fn a_huge_output_fails_the_call_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    // 20 000 copies of 1 KiB: fits the 64 MiB memory cap but not the 16 MiB output cap.
    let spec = one_operator_job(
        dir.path(),
        guests::FLOOD,
        "{ copies = 20000, size = 1024 }",
        &["x"],
    );
    let outcome = run(&spec, &options());
    assert!(values(&outcome, "out").is_empty());
    assert_eq!(outcome.summary.errors, 1);
    let sample = &outcome.summary.error_samples[0];
    assert!(
        sample.contains("over the limit of 100000 events or 16777216 bytes"),
        "{sample}"
    );
}

#[test]
fn a_flood_past_the_memory_cap_fails_the_call_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let spec = one_operator_job(
        dir.path(),
        guests::FLOOD,
        "{ copies = 100000, size = 1024 }",
        &["x"],
    );
    let mut options = options();
    options.limits.memory_bytes = 8 << 20;
    let outcome = run(&spec, &options);
    assert_eq!(outcome.summary.errors, 1);
    assert!(
        outcome.summary.error_samples[0].contains("memory cap exceeded"),
        "{:?}",
        outcome.summary
    );
}

#[test]
fn an_operator_filling_state_hits_the_state_quota() {
    let dir = tempfile::tempdir().unwrap();
    let spec = one_operator_job(dir.path(), guests::STATE_HOG, "{}", &["x"]);
    let mut options = options();
    options.limits.state_bytes = 1 << 20;
    let outcome = run(&spec, &options);
    assert_eq!(outcome.summary.errors, 1);
    let sample = &outcome.summary.error_samples[0];
    assert!(sample.contains("state quota exceeded"), "{sample}");
    assert!(sample.contains("quota of 1048576 bytes"), "{sample}");
}

#[test]
fn failed_inputs_are_written_to_the_dead_letter_file_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("input.txt"), "a\nboom\nb").unwrap();
    let toml = format!(
        r#"
name = "test"
dead_letter = {{ path = "dead.ndjson" }}
[[source]]
name = "in"
kind = "file"
path = "input.txt"
[[operator]]
name = "op"
module = {}
inputs = ["in"]
[[sink]]
name = "out"
kind = "memory"
inputs = ["op"]
"#,
        crate::support::toml_path(guests::TRAPPER)
    );
    let spec = crate::support::parse(&toml, dir.path());
    let outcome = run(&spec, &options());
    assert_eq!(values(&outcome, "out"), ["a", "b"]);
    let dead = std::fs::read_to_string(dir.path().join("dead.ndjson")).unwrap();
    let record: serde_json::Value = serde_json::from_str(dead.trim()).unwrap();
    assert_eq!(record["value"], "boom");
    assert_eq!(record["operator"], "test/op");
    assert!(
        record["reason"].as_str().unwrap().contains("trapped"),
        "{record}"
    );
}

#[test]
fn the_tenants_state_quota_holds_across_all_its_instances() {
    let dir = tempfile::tempdir().unwrap();
    // 400 distinct words, one per line, spread over two instances by key hash.
    let lines: Vec<String> = (0..400).map(|i| format!("word{i}")).collect();
    std::fs::write(dir.path().join("input.txt"), lines.join("\n")).unwrap();
    let toml = format!(
        r#"
name = "test"
tenant = "acme"
[[source]]
name = "in"
kind = "file"
path = "input.txt"
[[operator]]
name = "op"
module = {}
inputs = ["in"]
parallelism = 2
[[sink]]
name = "out"
kind = "memory"
inputs = ["op"]
"#,
        crate::support::toml_path(guests::WORDCOUNT)
    );
    let spec = crate::support::parse(&toml, dir.path());
    let mut options = options();
    options.limits.batch_size = 1;
    // Each word costs its bytes, an 8-byte count and 32 bytes of bookkeeping: about 46.
    options.limits.tenant_state_bytes = 100 * 46;
    let outcome = run(&spec, &options);
    assert!(outcome.summary.errors > 0, "{:?}", outcome.summary);
    // The quota is checked against committed state: the two instances may each have one
    // call's writes (one word here) in flight past it, never more.
    let held = outcome.summary.state_bytes;
    assert!(held <= 102 * 46, "{held} bytes held: {:?}", outcome.summary);
    assert!(held > 80 * 46, "{held} bytes held: {:?}", outcome.summary);
    let sample = &outcome.summary.error_samples[0];
    assert!(sample.contains("tenant \"acme\" holds"), "{sample}");
}
