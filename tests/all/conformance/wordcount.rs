//! Wordcount's rows of the conformance table: Rust's word characters and lower case, the
//! `text` field, event times, and counts in host state that survive a trap.

use super::{Case, Op, counts, leak, lines, runs, runs_with_dead, timed_counts, wordcount};

/// Source lines for NDJSON input whose `t` field is the event time.
const TIMED: &str = "format = \"ndjson\"\nevent_time_field = \"t\"";

/// Wordcount's cases.
pub(super) fn cases() -> Vec<Case> {
    // 2000 distinct words: more state than the quota allows, in one event.
    let flood: Vec<String> = (0..2000).map(|i| format!("w{i}")).collect();
    vec![
        wordcount(
            "words are split on non-alphanumerics and lower-cased",
            &["Hello, hello WORLD!", "été-2024 x_y"],
            runs(counts(&[
                ("hello", 1),
                ("hello", 2),
                ("world", 1),
                ("été", 1),
                ("2024", 1),
                ("x", 1),
                ("y", 1),
            ])),
        ),
        wordcount(
            "the text field of a JSON object, else the whole value",
            &[
                r#"{"text": "a b", "x": 1}"#,
                r#"{"body": "a"}"#,
                r#"{"text": 5}"#,
                r#"["text"]"#,
            ],
            runs(counts(&[
                ("a", 1),
                ("b", 1),
                ("body", 1),
                ("a", 2),
                ("text", 1),
                ("5", 1),
                ("text", 2),
            ])),
        ),
        wordcount(
            "Unicode words are Rust's",
            &[
                "ΟΔΟΣ ΣΑΣ Σ",
                "İstanbul ǅemal ＡＢＣ",
                "हिन्दी cafe\u{301} x²",
                "Ⅻ ٣٤ 😀a",
            ],
            runs(counts(&[
                ("οδος", 1),
                ("σας", 1),
                ("σ", 1),
                ("i\u{307}stanbul", 1),
                ("ǆemal", 1),
                ("ａｂｃ", 1),
                // The vowel sign ि is Alphabetic, the virama ् is not.
                ("हिन", 1),
                ("दी", 1),
                ("cafe", 1),
                ("x²", 1),
                ("ⅻ", 1),
                ("٣٤", 1),
                ("a", 1),
            ])),
        ),
        wordcount(
            "JSON that serde_json refuses is counted as text",
            &[r#"{"text":"\ud800 x"}"#, r#"{"text":"a","n":1e400}"#],
            runs(counts(&[
                ("text", 1),
                ("ud800", 1),
                ("x", 1),
                ("text", 2),
                ("a", 1),
                ("n", 1),
                ("1e400", 1),
            ])),
        ),
        Case {
            name: "event times carry over",
            op: Op::WordCount,
            config: "{}",
            input: lines(&[r#"{"t": 5, "text": "x y"}"#, r#"{"t": -7, "text": "X"}"#]),
            source: TIMED,
            times: true,
            expect: runs(timed_counts(&[("x", 1, 5), ("y", 1, 5), ("x", 2, -7)])),
        },
        Case {
            name: "state survives a trap, and the trapped event leaves no counts",
            op: Op::WordCount,
            config: "{}",
            input: vec!["a w1".to_string(), flood.join(" "), "a w1".to_string()],
            source: "",
            times: false,
            expect: runs_with_dead(
                counts(&[("a", 1), ("w1", 1), ("a", 2), ("w1", 2)]),
                vec![(leak(flood.join(" ")), "state quota exceeded")],
            ),
        },
    ]
}
