//! Replaying input: file sources start from a line or an event time given on this start, and
//! a replay that a job's sources cannot do is refused with the reason.

use cameo_host::{JobPlan, Replay, ReplayError};
use cameo_tests::guests;

use crate::support::{options, parse, toml_path, values};

/// A job reading NDJSON `{"text", "ts"}` lines from `input.ndjson` (event times from `ts`
/// when `timed`) through `wordcount` into memory.
fn counts_job(dir: &std::path::Path, kind: &str, timed: bool) -> JobPlan {
    let event_time = if timed {
        "event_time_field = \"ts\""
    } else {
        ""
    };
    let path = if kind == "file" {
        "path = \"input.ndjson\""
    } else {
        ""
    };
    let toml = format!(
        r#"
name = "replayed"
[[source]]
name = "in"
kind = "{kind}"
{path}
format = "ndjson"
{event_time}
[[operator]]
name = "count"
module = {module}
inputs = ["in"]
[[sink]]
name = "out"
kind = "memory"
inputs = ["count"]
"#,
        module = toml_path(guests::WORDCOUNT)
    );
    JobPlan::from_spec(&parse(&toml, dir)).unwrap()
}

fn write_input(dir: &std::path::Path) {
    let lines: Vec<String> = (0..10)
        .map(|i| format!("{{\"text\":\"w{i}\",\"ts\":{}}}", 1000 + i * 100))
        .collect();
    std::fs::write(dir.join("input.ndjson"), lines.join("\n")).unwrap();
}

fn words(outcome: &cameo_host::JobOutcome) -> Vec<String> {
    values(outcome, "out")
        .iter()
        .map(|v| {
            let json: serde_json::Value = serde_json::from_str(v).unwrap();
            json["word"].as_str().unwrap().to_string()
        })
        .collect()
}

#[test]
fn a_file_source_replays_from_a_line_or_an_event_time() {
    let dir = tempfile::tempdir().unwrap();
    write_input(dir.path());
    let mut plan = counts_job(dir.path(), "file", true);
    let rewound = plan
        .replay(Replay {
            from_offset: Some(7),
            from_time: None,
        })
        .unwrap();
    assert_eq!(rewound, ["in"]);
    let outcome = cameo_host::run_plan(&plan, &options()).unwrap();
    assert_eq!(words(&outcome), ["w7", "w8", "w9"]);

    let mut plan = counts_job(dir.path(), "file", true);
    plan.replay(Replay {
        from_offset: None,
        from_time: Some(1450),
    })
    .unwrap();
    let outcome = cameo_host::run_plan(&plan, &options()).unwrap();
    assert_eq!(words(&outcome), ["w5", "w6", "w7", "w8", "w9"]);
}

#[test]
fn a_replay_the_sources_cannot_do_is_refused_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    write_input(dir.path());
    let by_time = Replay {
        from_offset: None,
        from_time: Some(1450),
    };
    let err = counts_job(dir.path(), "file", false)
        .replay(by_time)
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "source \"in\" has no event_time_field, so its events carry the time they were read, \
         not one to replay from; give it an event_time_field, or replay with --from-offset"
    );
    let err = counts_job(dir.path(), "stdin", true)
        .replay(by_time)
        .unwrap_err();
    assert_eq!(err, ReplayError::NothingToRewind);
    assert_eq!(
        err.to_string(),
        "the job has no source that can rewind (sources of kind \"file\" or \"http\"); a \
         replay needs one"
    );
}
