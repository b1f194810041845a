//! The filter's rows of the conformance table: equality and minimum tests, serde_json's
//! number, string and nesting rules, JSON Pointers, bad events and refused configs.

use super::{Case, Expect, filter, kept, leak, runs, runs_with_dead};

const NOT_JSON: &str = "invalid input: event value is not valid JSON";
const FIELD_N: &str = "invalid input: cannot read field `n` of the event value";
const FIELD_X: &str = "invalid input: cannot read field `x` of the event value";

/// An object nested `depth` levels deep in all: `{"x":5,"d":[[...]]}`.
fn nested(depth: usize) -> String {
    format!(
        "{{\"x\":5,\"d\":{}{}}}",
        "[".repeat(depth - 1),
        "]".repeat(depth - 1)
    )
}

/// The filter's cases.
pub(super) fn cases() -> Vec<Case> {
    let deep_ok = nested(127);
    let too_deep = nested(128);
    let pointer_deep_ok = nested(127).replace("\"x\"", "\"n\"");
    let pointer_too_deep = nested(128).replace("\"x\"", "\"n\"");
    vec![
        filter(
            "equals a string",
            r#"{ field = "s", equals = "a" }"#,
            &[
                r#"{"s":"a"}"#,
                r#"{"s":"b"}"#,
                r#"{"t":"a"}"#,
                r#"{"s":null}"#,
            ],
            runs(kept(&[r#"{"s":"a"}"#])),
        ),
        filter(
            "numbers compare by value",
            r#"{ field = "n", equals = 2 }"#,
            &[
                r#"{"n":2.0}"#,
                r#"{"n":"2"}"#,
                r#"{"n":3}"#,
                r#"{"n":2}"#,
                r#"{"n":2e0}"#,
            ],
            runs(kept(&[r#"{"n":2.0}"#, r#"{"n":2}"#, r#"{"n":2e0}"#])),
        ),
        filter(
            "integers beyond 2^53 stay exact, floats compare as f64",
            r#"{ field = "n", equals = 9007199254740993 }"#,
            &[
                r#"{"n":9007199254740993}"#,
                r#"{"n":9007199254740992}"#,
                r#"{"n":9007199254740992.0}"#,
                r#"{"n":-9007199254740993}"#,
            ],
            runs(kept(&[
                r#"{"n":9007199254740993}"#,
                r#"{"n":9007199254740992.0}"#,
            ])),
        ),
        filter(
            "the named field is read strictly, the other fields only scanned",
            r#"{ field = "n", min = 0 }"#,
            &[
                r#"{"n":1e400}"#,
                r#"{"n":NaN}"#,
                r#"{"n":1,"s":"\ud800"}"#,
                r#"{"n":1,"s":1e400}"#,
                r#"{"n":"\ud800"}"#,
                r#"{"n":1,"s":"\ud83d\ude00"}"#,
                r#"{"n":1e308}"#,
                r#"{"n":184467440737095516160}"#,
            ],
            runs_with_dead(
                kept(&[
                    r#"{"n":1,"s":"\ud800"}"#,
                    r#"{"n":1,"s":1e400}"#,
                    r#"{"n":1,"s":"\ud83d\ude00"}"#,
                    r#"{"n":1e308}"#,
                    r#"{"n":184467440737095516160}"#,
                ]),
                vec![
                    (r#"{"n":1e400}"#, FIELD_N),
                    (r#"{"n":NaN}"#, FIELD_N),
                    (r#"{"n":"\ud800"}"#, FIELD_N),
                ],
            ),
        ),
        filter(
            "with a pointer the whole value is read strictly",
            r#"{ field = "/n", min = 0 }"#,
            &[
                r#"{"n":1,"s":"\ud800"}"#,
                r#"{"n":1,"s":1e400}"#,
                &pointer_too_deep,
                &pointer_deep_ok,
                r#"{"n":1} x"#,
                r#"{"n":2}"#,
            ],
            runs_with_dead(
                kept(&[&pointer_deep_ok, r#"{"n":2}"#]),
                vec![
                    (r#"{"n":1,"s":"\ud800"}"#, NOT_JSON),
                    (r#"{"n":1,"s":1e400}"#, NOT_JSON),
                    (leak(pointer_too_deep.clone()), NOT_JSON),
                    (r#"{"n":1} x"#, NOT_JSON),
                ],
            ),
        ),
        filter(
            "min and JSON pointers",
            r#"{ field = "/a/b", min = 10 }"#,
            &[
                r#"{"a":{"b":10}}"#,
                r#"{"a":{"b":9.5}}"#,
                r#"{"a":{"b":"x"}}"#,
                r#"{"a":[10]}"#,
                r#"{"a":{"b":1e3}}"#,
                r#"{"a":{"b":true}}"#,
            ],
            runs(kept(&[r#"{"a":{"b":10}}"#, r#"{"a":{"b":1e3}}"#])),
        ),
        filter(
            "pointers index arrays and unescape ~0 ~1",
            r#"{ field = "/items/1/p~1q", min = 5 }"#,
            &[
                r#"{"items":[{"p/q":1},{"p/q":7}]}"#,
                r#"{"items":[{"p/q":9}]}"#,
                r#"{"items":{"1":{"p/q":9}}}"#,
                r#"{"items":[{"p/q":1},{"p~q":7}]}"#,
            ],
            runs(kept(&[
                r#"{"items":[{"p/q":1},{"p/q":7}]}"#,
                r#"{"items":{"1":{"p/q":9}}}"#,
            ])),
        ),
        filter(
            "nested values compare strictly",
            r#"{ field = "o", equals = { a = 2, b = [true, "x"] } }"#,
            &[
                r#"{"o":{"b":[true,"x"],"a":2}}"#,
                r#"{"o":{"a":2.0,"b":[true,"x"]}}"#,
                r#"{"o":{"a":2,"b":[1,"x"]}}"#,
                r#"{"o":{"a":2,"b":[true,"x"],"c":null}}"#,
            ],
            runs(kept(&[r#"{"o":{"b":[true,"x"],"a":2}}"#])),
        ),
        filter(
            "booleans are not numbers",
            r#"{ field = "f", equals = true }"#,
            &[r#"{"f":true}"#, r#"{"f":1}"#, r#"{"f":"true"}"#],
            runs(kept(&[r#"{"f":true}"#])),
        ),
        filter(
            "strings compare by code points after unescaping",
            r#"{ field = "name", equals = "café" }"#,
            &[
                r#"{"name":"café"}"#,
                r#"{"name":"cafe\u0301"}"#,
                r#"{"name":"caf\u00e9"}"#,
                r#"{"name":"CAFÉ"}"#,
            ],
            runs(kept(&[r#"{"name":"café"}"#, r#"{"name":"caf\u00e9"}"#])),
        ),
        filter(
            "the last of repeated keys wins",
            r#"{ field = "k", equals = 1 }"#,
            &[r#"{"k":2,"k":1}"#, r#"{"k":1,"k":2}"#],
            runs(kept(&[r#"{"k":2,"k":1}"#])),
        ),
        filter(
            "bad events go to the dead letters, the rest goes on",
            r#"{ field = "x", min = 1 }"#,
            &[
                "nope",
                "[1,2]",
                r#"{"x":5}"#,
                &deep_ok,
                &too_deep,
                r#"{"x":5} x"#,
                "7",
            ],
            runs_with_dead(
                // Nesting in a field that is only scanned is not limited.
                kept(&[r#"{"x":5}"#, &deep_ok, &too_deep]),
                vec![
                    ("nope", FIELD_X),
                    ("[1,2]", "invalid input: event value is not a JSON object"),
                    (r#"{"x":5} x"#, FIELD_X),
                    ("7", "invalid input: event value is not a JSON object"),
                ],
            ),
        ),
        filter(
            "syntax serde_json refuses is refused, whatever parser a language has",
            r#"{ field = "x", min = 1 }"#,
            &[
                r#"{"x":01}"#,
                r#"{"x":5,}"#,
                "{\"x\":\"a\tb\",\"y\":5}",
                r#"{'x':5}"#,
                r#"{"x":.5}"#,
                r#"{"x":+1}"#,
                r#"{"x":1.}"#,
                r#"{"x":0x1}"#,
                r#"{"x":Infinity}"#,
                r#"{"x":"\x41"}"#,
                r#"{"x":5}"#,
            ],
            runs_with_dead(
                kept(&[r#"{"x":5}"#]),
                vec![
                    (r#"{"x":01}"#, FIELD_X),
                    (r#"{"x":5,}"#, FIELD_X),
                    ("{\"x\":\"a\tb\",\"y\":5}", FIELD_X),
                    (r#"{'x':5}"#, FIELD_X),
                    (r#"{"x":.5}"#, FIELD_X),
                    (r#"{"x":+1}"#, FIELD_X),
                    (r#"{"x":1.}"#, FIELD_X),
                    (r#"{"x":0x1}"#, FIELD_X),
                    (r#"{"x":Infinity}"#, FIELD_X),
                    (r#"{"x":"\x41"}"#, FIELD_X),
                ],
            ),
        ),
        filter(
            "a config without a test is refused",
            r#"{ field = "x" }"#,
            &["{}"],
            Expect::InitFails(
                "invalid input: config needs `equals` or `min` (or both) besides `field`",
            ),
        ),
        filter(
            "a config without field is refused",
            r#"{ equals = 1 }"#,
            &["{}"],
            Expect::InitFails("invalid input: config field `field` is required but missing"),
        ),
        filter(
            "config fields of the wrong type are refused",
            r#"{ field = "x", min = "a" }"#,
            &["{}"],
            Expect::InitFails("invalid input: config field `min` must be a number, got a string"),
        ),
        filter(
            "a negative number where a string belongs is named",
            r#"{ field = -1, min = 1 }"#,
            &["{}"],
            Expect::InitFails(
                "invalid input: config field `field` must be a string, got a negative number",
            ),
        ),
    ]
}
