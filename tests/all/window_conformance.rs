//! Window conformance: one table of cases run against `window-agg` written in every language
//! that has it, through the real host with host-managed windows (tumbling, sliding and
//! session, with late events merging sessions). Every language must emit what the Rust
//! operator emits, byte for byte: integers stay exact while they fit an i64 and become floats
//! after, floats are written the way serde_json writes them, a sum past the f64 range is
//! `null` for the rest of its pane, and an event without a numeric field is a dead letter
//! with the same reason.

use crate::support::conformance::{
    CaseJob, LANGUAGES, assert_all_conform, difference, host_with, run,
};
use crate::support::repo_root;

struct Case {
    name: &'static str,
    /// The `window` table of the job spec.
    window: &'static str,
    /// The operator's config, a TOML inline table.
    config: &'static str,
    /// NDJSON events: `k` is the key, `t` the event time.
    input: &'static [&'static str],
    /// The outputs, as `key value @time`, in the order the host emits them.
    outputs: &'static [&'static str],
    /// Dead letters: (value, a text its reason contains).
    dead: &'static [(&'static str, &'static str)],
}

const NO_VALUE: &str = "invalid input: event value has no numeric field `value`";

fn cases() -> Vec<Case> {
    vec![
        Case {
            name: "tumbling sums per key",
            window: r#"{ kind = "tumbling", size_ms = 10 }"#,
            config: "{}",
            input: &[
                r#"{"k":"a","t":1,"value":2}"#,
                r#"{"k":"b","t":3,"value":10}"#,
                r#"{"k":"a","t":5,"value":-3}"#,
                r#"{"k":"a","t":12,"value":7}"#,
            ],
            outputs: &[
                r#"a {"count":2,"key":"a","max":2,"min":-3,"sum":-1,"window_end":10,"window_start":0} @9"#,
                r#"b {"count":1,"key":"b","max":10,"min":10,"sum":10,"window_end":10,"window_start":0} @9"#,
                r#"a {"count":1,"key":"a","max":7,"min":7,"sum":7,"window_end":20,"window_start":10} @19"#,
            ],
            dead: &[],
        },
        Case {
            name: "floats mix in and are written as serde_json writes them",
            window: r#"{ kind = "tumbling", size_ms = 100 }"#,
            config: r#"{ field = "celsius" }"#,
            input: &[
                r#"{"k":"s","t":1,"celsius":1}"#,
                r#"{"k":"s","t":2,"celsius":0.5}"#,
                r#"{"k":"s","t":3,"celsius":1e+16}"#,
                r#"{"k":"s","t":4,"celsius":0.00001}"#,
            ],
            outputs: &[
                r#"s {"count":4,"key":"s","max":1e+16,"min":0.00001,"sum":1.0000000000000002e+16,"window_end":100,"window_start":0} @99"#,
            ],
            dead: &[],
        },
        Case {
            name: "a sum past i64 becomes a float",
            window: r#"{ kind = "tumbling", size_ms = 10 }"#,
            config: "{}",
            input: &[
                r#"{"k":"x","t":1,"value":9223372036854775807}"#,
                r#"{"k":"x","t":2,"value":1}"#,
                r#"{"k":"y","t":3,"value":18446744073709551615}"#,
            ],
            outputs: &[
                r#"x {"count":2,"key":"x","max":9223372036854775807,"min":1,"sum":9.223372036854776e+18,"window_end":10,"window_start":0} @9"#,
                r#"y {"count":1,"key":"y","max":1.8446744073709552e+19,"min":1.8446744073709552e+19,"sum":1.8446744073709552e+19,"window_end":10,"window_start":0} @9"#,
            ],
            dead: &[],
        },
        Case {
            name: "a sum past the f64 range is null and stays null",
            window: r#"{ kind = "tumbling", size_ms = 10 }"#,
            config: "{}",
            input: &[
                r#"{"k":"a","t":1,"value":1e308}"#,
                r#"{"k":"a","t":2,"value":1e308}"#,
                r#"{"k":"a","t":3,"value":-1e308}"#,
                r#"{"k":"b","t":4,"value":-1e308}"#,
                r#"{"k":"b","t":5,"value":-1.5e308}"#,
                r#"{"k":"c","t":6,"value":1.5e308}"#,
            ],
            outputs: &[
                r#"a {"count":3,"key":"a","max":1e+308,"min":-1e+308,"sum":null,"window_end":10,"window_start":0} @9"#,
                r#"b {"count":2,"key":"b","max":-1e+308,"min":-1.5e+308,"sum":null,"window_end":10,"window_start":0} @9"#,
                r#"c {"count":1,"key":"c","max":1.5e+308,"min":1.5e+308,"sum":1.5e+308,"window_end":10,"window_start":0} @9"#,
            ],
            dead: &[],
        },
        Case {
            name: "sessions whose sums overflow both ways merge into no sum",
            window: r#"{ kind = "session", gap_ms = 10 }"#,
            config: "{}",
            input: &[
                r#"{"k":"m","t":1,"value":1e308}"#,
                r#"{"k":"m","t":2,"value":1e308}"#,
                r#"{"k":"m","t":18,"value":-1e308}"#,
                r#"{"k":"m","t":19,"value":-1e308}"#,
                r#"{"k":"m","t":9,"value":0}"#,
            ],
            outputs: &[
                r#"m {"count":5,"key":"m","max":1e+308,"min":-1e+308,"sum":null,"window_end":29,"window_start":1} @28"#,
            ],
            dead: &[],
        },
        Case {
            name: "events without a numeric field are dead letters",
            window: r#"{ kind = "tumbling", size_ms = 10 }"#,
            config: "{}",
            input: &[
                r#"{"k":"a","t":1,"value":4}"#,
                r#"{"k":"a","t":2,"value":"4"}"#,
                r#"{"k":"a","t":3,"other":4}"#,
                r#"{"k":"a","t":4,"value":true}"#,
                r#"{"k":"a","t":5,"value":null}"#,
            ],
            outputs: &[
                r#"a {"count":1,"key":"a","max":4,"min":4,"sum":4,"window_end":10,"window_start":0} @9"#,
            ],
            dead: &[
                (r#"{"k":"a","t":2,"value":"4"}"#, NO_VALUE),
                (r#"{"k":"a","t":3,"other":4}"#, NO_VALUE),
                (r#"{"k":"a","t":4,"value":true}"#, NO_VALUE),
                (r#"{"k":"a","t":5,"value":null}"#, NO_VALUE),
            ],
        },
        Case {
            name: "keys are written as JSON strings, escaped as serde_json escapes",
            window: r#"{ kind = "tumbling", size_ms = 10 }"#,
            config: "{}",
            input: &[r#"{"k":"q\"é\\\n","t":1,"value":1}"#],
            outputs: &[
                "q\"é\\\n {\"count\":1,\"key\":\"q\\\"é\\\\\\n\",\"max\":1,\"min\":1,\"sum\":1,\"window_end\":10,\"window_start\":0} @9",
            ],
            dead: &[],
        },
        Case {
            name: "sliding windows count an event in each",
            window: r#"{ kind = "sliding", size_ms = 10, slide_ms = 5 }"#,
            config: "{}",
            input: &[
                r#"{"k":"a","t":7,"value":1}"#,
                r#"{"k":"a","t":12,"value":2}"#,
            ],
            outputs: &[
                r#"a {"count":1,"key":"a","max":1,"min":1,"sum":1,"window_end":10,"window_start":0} @9"#,
                r#"a {"count":2,"key":"a","max":2,"min":1,"sum":3,"window_end":15,"window_start":5} @14"#,
                r#"a {"count":1,"key":"a","max":2,"min":2,"sum":2,"window_end":20,"window_start":10} @19"#,
            ],
            dead: &[],
        },
        Case {
            name: "a late event merges two sessions",
            window: r#"{ kind = "session", gap_ms = 10 }"#,
            config: "{}",
            input: &[
                r#"{"k":"a","t":1,"value":5}"#,
                r#"{"k":"a","t":15,"value":1}"#,
                r#"{"k":"a","t":8,"value":3}"#,
                r#"{"k":"b","t":2,"value":8}"#,
            ],
            outputs: &[
                r#"b {"count":1,"key":"b","max":8,"min":8,"sum":8,"window_end":12,"window_start":2} @11"#,
                r#"a {"count":3,"key":"a","max":5,"min":1,"sum":9,"window_end":25,"window_start":1} @24"#,
            ],
            dead: &[],
        },
    ]
}

/// Source lines: NDJSON whose `k` field is the key and `t` the event time.
const SOURCE: &str =
    "format = \"ndjson\"\nkey_field = \"k\"\nevent_time_field = \"t\"\nwatermark_delay_ms = 100";

/// Runs the table against `language`'s window-agg on one host; fails listing every case that
/// does not conform.
fn conforms(language: &str) {
    let (host, modules) = host_with(language, None, &["window-agg"]);
    assert!(
        modules[0].windowed().is_some(),
        "{language} window-agg is not windowed"
    );
    let mut failures = Vec::new();
    for case in cases() {
        let input: Vec<String> = case.input.iter().map(|line| line.to_string()).collect();
        let operator = format!("window = {}", case.window);
        let job = CaseJob {
            name: case.name,
            input: &input,
            source: SOURCE,
            config: case.config,
            operator: &operator,
            times: true,
        };
        let outputs: Vec<String> = case.outputs.iter().map(|line| line.to_string()).collect();
        let why = match run(&host, &modules[0], language, &job) {
            Ok(emitted) => difference(&outputs, case.dead, &emitted),
            Err(error) => Some(format!("the job failed: {error}")),
        };
        if let Some(why) = why {
            failures.push(format!("{language} `{}`: {why}", case.name));
        }
    }
    assert_all_conform(host, &failures);
}

#[test]
fn rust_window_agg_conforms() {
    conforms("rust");
}

#[test]
fn python_window_agg_conforms() {
    conforms("python");
}

#[test]
fn javascript_window_agg_conforms() {
    conforms("js");
}

#[test]
fn c_window_agg_conforms() {
    conforms("c");
}

#[test]
fn every_listed_language_has_a_window_agg() {
    for language in LANGUAGES.iter().filter(|l| **l != "rust") {
        let dir = repo_root()
            .join("example-operators")
            .join(language)
            .join("window-agg");
        assert_eq!(
            cameo_lang::detect(&dir).map(|l| l.name()).ok(),
            Some(*language),
            "{}",
            dir.display()
        );
    }
}
