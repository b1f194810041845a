//! Deadline misses per sink and per operator: an output that reaches a sink after its
//! deadline counts against that sink and every operator upstream of it.

use cameo_tests::guests;

use crate::support::{options, parse, run, toml_path};

#[test]
fn a_missed_deadline_counts_against_its_sink_and_every_operator_upstream() {
    let dir = tempfile::tempdir().unwrap();
    let lines: Vec<String> = (0..10).map(|i| format!("word{i}")).collect();
    std::fs::write(dir.path().join("input.txt"), lines.join("\n")).unwrap();
    // Every event spins 3 million loop iterations in `spin` before `slow` gets it: far more
    // than the 1 ms target, so every output of `slow` misses its deadline.
    let spec = parse(
        &format!(
            r#"
            name = "test"
            latency_target_ms = 1
            [[source]]
            name = "in"
            kind = "file"
            path = "input.txt"
            [[operator]]
            name = "count"
            module = {}
            inputs = ["in"]
            [[operator]]
            name = "spin"
            module = {}
            inputs = ["count"]
            config = {{ iterations = 3000000 }}
            [[sink]]
            name = "counts"
            kind = "memory"
            inputs = ["count"]
            [[sink]]
            name = "slow"
            kind = "memory"
            inputs = ["spin"]
            "#,
            toml_path(guests::WORDCOUNT),
            toml_path(guests::SPIN_SLICE)
        ),
        dir.path(),
    );
    let mut options = options();
    options.limits.batch_size = 1;
    let summary = run(&spec, &options).summary;
    let (counts, slow) = (&summary.sinks["counts"], &summary.sinks["slow"]);
    assert_eq!((counts.events_out, slow.events_out), (10, 10));
    assert_eq!(slow.deadline_misses, 10, "{summary}");
    assert_eq!(summary.operators["test/spin"].deadline_misses, 10);
    assert_eq!(
        summary.operators["test/count"].deadline_misses,
        counts.deadline_misses + slow.deadline_misses,
        "count is upstream of both sinks"
    );
    assert_eq!(
        summary.deadline_misses,
        counts.deadline_misses + slow.deadline_misses
    );
}
