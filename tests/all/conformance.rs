//! Conformance: one table of cases run against `filter` and `wordcount` written in every
//! language (Rust, Python, JavaScript, C), through the real host. Every language must give
//! the outputs, dead letters and errors the table says, which are the Rust operators'.
//!
//! The table also defines what would otherwise differ by language, and each SDK follows
//! Rust's rules (`sdk/python/cameo.py`, `sdk/js/cameo.js`, `sdk/c/cameo.h`):
//! - word characters are Rust's `char::is_alphanumeric` (Unicode `Alphabetic` or `Numeric`:
//!   Devanagari vowel signs count, a combining acute accent splits a word), and lower case is
//!   Rust's `str::to_lowercase` (`İ` becomes two characters, a word-final `Σ` becomes `ς`);
//! - JSON is serde_json's: integers exact when they fit an i64 or u64 (2^53 + 1 is not 2^53),
//!   numbers out of the f64 range, NaN, lone surrogate escapes and more than 127 levels of
//!   nesting refused, the last of repeated keys wins, and nested values compare strictly
//!   (`{"a": 2}` is not `{"a": 2.0}`) while the compared field itself compares numbers by
//!   value; a filter on a named field reads that field strictly and only scans the others
//!   (as `Event::json_field` does: what is refused there is let through elsewhere), a filter
//!   on a JSON Pointer reads the whole value strictly;
//! - state: counts are 8-byte little-endian values that survive failed batches and traps.
//!
//! Python components are large (about 18 MB): each language's components are built once
//! (cached under `target/guests/<language>` by their inputs) and compiled once per test run,
//! on one host per language. Interpreted guests burn far more fuel than compiled ones for the
//! same work, so each language's host gets a fuel budget per call that fits it
//! ([`fuel_per_call`]); the state quota is the same for all.

use std::path::{Path, PathBuf};

use cameo_host::{Host, JobPlan, ModuleSource, OperatorModule, RunOptions};
use cameo_tests::guests;

use crate::support::{options, repo_root};

/// The languages, as `cameo operator new --lang` names them.
const LANGUAGES: [&str; 4] = ["rust", "python", "js", "c"];

/// Fuel one call may burn, per language: the Rust tests' budget times how much more fuel the
/// language burns for the same work (measured: Python about 7x, JavaScript about 16x).
fn fuel_per_call(language: &str) -> u64 {
    let rust = options().limits.fuel_per_call;
    match language {
        "python" => rust * 10,
        "js" => rust * 20,
        _ => rust,
    }
}

/// The state quota of every case's tenant: far above what the cases store, except the one
/// that means to exceed it.
const STATE_QUOTA: u64 = 8 * 1024;

#[derive(Clone, Copy, PartialEq, Debug)]
enum Op {
    Filter,
    WordCount,
}

/// What a case expects.
enum Expect {
    /// The job runs: these outputs (rendered by [`render`]), and dead letters whose reasons
    /// contain these texts, for these values.
    Runs {
        outputs: Vec<String>,
        dead: Vec<(&'static str, &'static str)>,
    },
    /// `init` refuses the config: the job fails with an error containing this text.
    InitFails(&'static str),
}

struct Case {
    name: &'static str,
    op: Op,
    /// The operator's config, a TOML inline table.
    config: &'static str,
    /// Lines of the input file; with `times`, NDJSON whose `t` field is the event time.
    input: Vec<String>,
    times: bool,
    expect: Expect,
}

fn lines(input: &[&str]) -> Vec<String> {
    input.iter().map(|line| line.to_string()).collect()
}

/// Outputs of the filter: the kept values, unchanged and without a key.
fn kept(values: &[&str]) -> Vec<String> {
    values.iter().map(|v| format!("- {v}")).collect()
}

/// Outputs of wordcount: one running count per word occurrence, keyed by the word.
fn counts(words: &[(&str, u64)]) -> Vec<String> {
    words
        .iter()
        .map(|(w, n)| format!("{w} {{\"count\":{n},\"word\":\"{w}\"}}"))
        .collect()
}

/// Like [`counts`], with the event time of each output.
fn timed_counts(words: &[(&str, u64, i64)]) -> Vec<String> {
    words
        .iter()
        .map(|(w, n, t)| format!("{w} {{\"count\":{n},\"word\":\"{w}\"}} @{t}"))
        .collect()
}

fn runs(outputs: Vec<String>) -> Expect {
    Expect::Runs {
        outputs,
        dead: Vec::new(),
    }
}

fn runs_with_dead(outputs: Vec<String>, dead: Vec<(&'static str, &'static str)>) -> Expect {
    Expect::Runs { outputs, dead }
}

fn filter(name: &'static str, config: &'static str, input: &[&str], expect: Expect) -> Case {
    Case {
        name,
        op: Op::Filter,
        config,
        input: lines(input),
        times: false,
        expect,
    }
}

fn wordcount(name: &'static str, input: &[&str], expect: Expect) -> Case {
    Case {
        name,
        op: Op::WordCount,
        config: "{}",
        input: lines(input),
        times: false,
        expect,
    }
}

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

/// The table.
fn cases() -> Vec<Case> {
    let deep_ok = nested(127);
    let too_deep = nested(128);
    let pointer_deep_ok = nested(127).replace("\"x\"", "\"n\"");
    let pointer_too_deep = nested(128).replace("\"x\"", "\"n\"");
    // 2000 distinct words: more state than the quota allows, in one event.
    let flood: Vec<String> = (0..2000).map(|i| format!("w{i}")).collect();
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
            times: true,
            expect: runs(timed_counts(&[("x", 1, 5), ("y", 1, 5), ("x", 2, -7)])),
        },
        Case {
            name: "state survives a trap, and the trapped event leaves no counts",
            op: Op::WordCount,
            config: "{}",
            input: vec!["a w1".to_string(), flood.join(" "), "a w1".to_string()],
            times: false,
            expect: runs_with_dead(
                counts(&[("a", 1), ("w1", 1), ("a", 2), ("w1", 2)]),
                vec![(leak(flood.join(" ")), "state quota exceeded")],
            ),
        },
    ]
}

/// A string that lives as long as the table.
fn leak(text: String) -> &'static str {
    Box::leak(text.into_boxed_str())
}

/// An output as the table writes it: the key (or `-`), the value, and with `times` the
/// event time.
fn render(event: &cameo_host::Event, times: bool) -> String {
    let key = event
        .key
        .as_ref()
        .map_or("-".to_string(), |k| String::from_utf8_lossy(k).into_owned());
    let mut text = format!("{key} {}", String::from_utf8_lossy(&event.value));
    if times {
        text.push_str(&format!(" @{}", event.event_time));
    }
    text
}

/// The component of `op` in `language`: Rust from the tests' build script, the others built
/// by cameo-lang into `target/guests/<language>` (skipped when their inputs are unchanged).
fn component(language: &str, op: Op) -> PathBuf {
    let name = match op {
        Op::Filter => "filter",
        Op::WordCount => "wordcount",
    };
    if language == "rust" {
        return PathBuf::from(match op {
            Op::Filter => guests::FILTER,
            Op::WordCount => guests::WORDCOUNT,
        });
    }
    let root = repo_root();
    let dir = root.join("example-operators").join(language).join(name);
    let out = root.join("target").join("guests").join(language);
    cameo_lang::build(&dir, Some(&out)).unwrap_or_else(|err| {
        panic!(
            "could not build {}: {err}\n(scripts/setup-languages installs the toolchains)",
            dir.display()
        )
    })
}

/// What one case gave: outputs and dead letters (value, reason), or the job's error.
type Observed = Result<(Vec<String>, Vec<(String, String)>), String>;

fn run_case(host: &Host, module: &OperatorModule, language: &str, case: &Case) -> Observed {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    std::fs::write(dir.path().join("input.txt"), case.input.join("\n"))
        .map_err(|e| e.to_string())?;
    let tenant: String = format!("{language}-{}", case.name)
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    let format = if case.times {
        r#"format = "ndjson"
event_time_field = "t""#
    } else {
        ""
    };
    let toml = format!(
        r#"
name = "{tenant}"
tenant = "{tenant}"
dead_letter = {{ path = "dead.ndjson" }}
[[source]]
name = "in"
kind = "file"
path = "input.txt"
{format}
[[operator]]
name = "op"
module = "the-module"
inputs = ["in"]
config = {config}
[[sink]]
name = "out"
kind = "memory"
inputs = ["op"]
"#,
        config = case.config,
    );
    let spec = crate::support::parse(&toml, dir.path());
    let plan = JobPlan::with_modules(&spec, |_| Ok(ModuleSource::Loaded(module.clone())))
        .map_err(|e| e.to_string())?;
    let outcome = host
        .submit_plan(&plan)
        .and_then(|job| job.wait())
        .map_err(|e| e.to_string())?;
    let outputs = outcome
        .outputs
        .get("out")
        .map(|events| events.iter().map(|e| render(e, case.times)).collect())
        .unwrap_or_default();
    let dead = std::fs::read_to_string(dir.path().join("dead.ndjson")).unwrap_or_default();
    let dead = dead
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .map(|record| {
            let text = |field: &str| record[field].as_str().unwrap_or_default().to_string();
            (text("value"), text("reason"))
        })
        .collect();
    Ok((outputs, dead))
}

/// Why `observed` does not meet `case`, if it does not.
fn mismatch(case: &Case, observed: &Observed) -> Option<String> {
    match (&case.expect, observed) {
        (Expect::InitFails(text), Err(error)) if error.contains(text) => None,
        (Expect::InitFails(text), other) => Some(format!(
            "expected the job to fail with `{text}`, got {other:?}"
        )),
        (Expect::Runs { .. }, Err(error)) => Some(format!("the job failed: {error}")),
        (Expect::Runs { outputs, dead }, Ok((got, got_dead))) => {
            if outputs != got {
                return Some(format!(
                    "outputs\n  expected {}\n  got      {}",
                    shown(outputs),
                    shown(got)
                ));
            }
            let dead_ok = dead.len() == got_dead.len()
                && dead
                    .iter()
                    .zip(got_dead)
                    .all(|((value, reason), (got_value, got_reason))| {
                        value == got_value && got_reason.contains(reason)
                    });
            (!dead_ok).then(|| {
                let expected: Vec<String> =
                    dead.iter().map(|(v, r)| format!("{v} => {r}")).collect();
                let got: Vec<String> = got_dead
                    .iter()
                    .map(|(v, r)| format!("{v} => {r}"))
                    .collect();
                format!(
                    "dead letters\n  expected {}\n  got      {}",
                    shown(&expected),
                    shown(&got)
                )
            })
        }
    }
}

/// Texts for a failure message, each cut to 160 characters.
fn shown(texts: &[String]) -> String {
    let cut: Vec<String> = texts
        .iter()
        .map(|t| match t.char_indices().nth(160) {
            Some((at, _)) => format!("{}...", &t[..at]),
            None => t.clone(),
        })
        .collect();
    format!("{cut:?}")
}

/// Runs the whole table against `language`'s filter and wordcount, on one host whose modules
/// are compiled once; fails listing every case that does not conform.
fn conforms(language: &str) {
    let mut run_options: RunOptions = options();
    run_options.limits.fuel_per_call = fuel_per_call(language);
    run_options.limits.state_bytes = STATE_QUOTA;
    let mut host = Host::new(run_options).expect("host");
    let load = |op| {
        let path = component(language, op);
        OperatorModule::load_file(host.engine(), &path)
            .unwrap_or_else(|err| panic!("{} does not load: {err}", path.display()))
    };
    let (filter, wordcount) = (load(Op::Filter), load(Op::WordCount));
    host.start().expect("start");
    let mut failures = Vec::new();
    for case in cases() {
        let module = match case.op {
            Op::Filter => &filter,
            Op::WordCount => &wordcount,
        };
        let observed = run_case(&host, module, language, &case);
        if let Some(why) = mismatch(&case, &observed) {
            failures.push(format!("{language} {:?} `{}`: {why}", case.op, case.name));
        }
    }
    host.shutdown();
    assert!(
        failures.is_empty(),
        "{} case(s) do not conform:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn rust_operators_conform() {
    conforms("rust");
}

#[test]
fn python_operators_conform() {
    conforms("python");
}

#[test]
fn javascript_operators_conform() {
    conforms("js");
}

#[test]
fn c_operators_conform() {
    conforms("c");
}

#[test]
fn every_language_has_both_example_operators() {
    for language in LANGUAGES.iter().filter(|l| **l != "rust") {
        for op in ["filter", "wordcount"] {
            let dir: PathBuf = repo_root()
                .join("example-operators")
                .join(language)
                .join(op);
            assert_eq!(
                cameo_lang::detect(Path::new(&dir)).map(|l| l.name()).ok(),
                Some(*language),
                "{}",
                dir.display()
            );
        }
    }
}
