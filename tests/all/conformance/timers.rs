//! timer-count's rows of the conformance table: event-time timers fire once per key and time,
//! in order of time then key, with the key and time they were registered with, and read the
//! state the events left; a trap fails only its own call, whose state writes are discarded.

use super::{Case, Expect, Op, lines};

/// NDJSON input: `k` is the key, `t` the event time; the watermark trails the latest event by
/// a second, so every timer of a case fires at the end of its input.
const KEYED: &str =
    "format = \"ndjson\"\nkey_field = \"k\"\nevent_time_field = \"t\"\nwatermark_delay_ms = 1000";

/// Like [`KEYED`], without keys.
const UNKEYED: &str = "format = \"ndjson\"\nevent_time_field = \"t\"\nwatermark_delay_ms = 1000";

/// What a dead letter of a trapped call says, in every language.
const TRAPPED: &str = "trap";

fn timer_count(
    name: &'static str,
    source: &'static str,
    input: &[&str],
    outputs: &[&str],
    dead: Vec<(&'static str, &'static str)>,
) -> Case {
    Case {
        name,
        op: Op::TimerCount,
        config: "{}",
        input: lines(input),
        source,
        times: true,
        expect: Expect::Runs {
            outputs: lines(outputs),
            dead,
        },
    }
}

/// timer-count's cases.
pub(super) fn cases() -> Vec<Case> {
    vec![
        timer_count(
            "timers fire in order of time then key, once per key and time",
            KEYED,
            &[
                r#"{"k":"b","t":5}"#,
                r#"{"k":"a","t":5}"#,
                r#"{"k":"a","t":1}"#,
                r#"{"k":"a","t":5}"#,
                r#"{"k":"b","t":-20}"#,
            ],
            &[
                r#"b {"count":1,"due":-10} @-10"#,
                r#"a {"count":1,"due":11} @11"#,
                r#"a {"count":2,"due":15} @15"#,
                r#"b {"count":1,"due":15} @15"#,
            ],
            vec![],
        ),
        timer_count(
            "timers without a key",
            UNKEYED,
            &[r#"{"t":3}"#, r#"{"t":3}"#, r#"{"t":1}"#],
            &[
                r#"- {"count":1,"due":11} @11"#,
                r#"- {"count":2,"due":13} @13"#,
            ],
            vec![],
        ),
        timer_count(
            // The trapped events counted themselves and registered their timers before
            // trapping: `a` would count 3 and `c` would fire if the host kept either.
            "a trap fails only its own call, whose state writes and timers are discarded",
            KEYED,
            &[
                r#"{"k":"a","t":1}"#,
                r#"{"k":"a","t":1,"trap":1}"#,
                r#"{"k":"a","t":1}"#,
                r#"{"k":"c","t":5,"trap":1}"#,
                r#"{"k":"b","t":2}"#,
            ],
            &[
                r#"a {"count":2,"due":11} @11"#,
                r#"b {"count":1,"due":12} @12"#,
            ],
            vec![
                (r#"{"k":"a","t":1,"trap":1}"#, TRAPPED),
                (r#"{"k":"c","t":5,"trap":1}"#, TRAPPED),
            ],
        ),
    ]
}
