//! Conformance: one table of cases run against `filter`, `wordcount` and `timer-count`
//! written in every language (Rust, Python, JavaScript, C), through the real host. Every
//! language must give the outputs, dead letters and errors the table says, which are the Rust
//! operators'.
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
//! - state: counts are 8-byte little-endian values that survive failed batches and traps;
//! - timers (`timer-count`, the smallest operator that registers them): each key and time
//!   fires once, in order of time then key, with the key and time it was registered with; a
//!   trap (a panic, an uncaught exception, `abort()`) fails only its own call, which goes to
//!   the dead letters with its state writes discarded, and the job goes on.
//!
//! Python components are large (about 18 MB): each language's components are built once
//! (cached under `target/guests/<language>` by their inputs) and compiled once per test run,
//! on one host per language. Interpreted guests burn far more fuel than compiled ones for the
//! same work, so each language's host gets a fuel budget per call that fits it
//! (`support::conformance::fuel_per_call`); the state quota is the same for all.
//!
//! # Layout
//! - `filter`, `wordcount`, `timers`: each operator's rows of the table.
//! - `support::conformance`: building, loading and running a case, shared with the window
//!   conformance table.

mod filter;
mod timers;
mod wordcount;

use std::path::PathBuf;

use crate::support::conformance::{
    CaseJob, LANGUAGES, assert_all_conform, difference, host_with, run,
};
use crate::support::repo_root;

/// The state quota of every case's tenant: far above what the cases store, except the one
/// that means to exceed it.
const STATE_QUOTA: u64 = 8 * 1024;

/// The example operators the table runs, by their directory names.
#[derive(Clone, Copy, PartialEq, Debug)]
enum Op {
    Filter,
    WordCount,
    TimerCount,
}

impl Op {
    const ALL: [Op; 3] = [Op::Filter, Op::WordCount, Op::TimerCount];

    fn example(self) -> &'static str {
        match self {
            Op::Filter => "filter",
            Op::WordCount => "wordcount",
            Op::TimerCount => "timer-count",
        }
    }
}

/// What a case expects.
enum Expect {
    /// The job runs: these outputs (`key value[ @time]`), and dead letters whose reasons
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
    /// Lines of the input file.
    input: Vec<String>,
    /// Extra lines of the source table (the input's format, key and event-time fields).
    source: &'static str,
    /// Whether outputs are compared with their event times.
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
        source: "",
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
        source: "",
        times: false,
        expect,
    }
}

/// A string that lives as long as the table.
fn leak(text: String) -> &'static str {
    Box::leak(text.into_boxed_str())
}

/// The whole table.
fn cases() -> Vec<Case> {
    let mut cases = filter::cases();
    cases.extend(wordcount::cases());
    cases.extend(timers::cases());
    cases
}

/// Why the run of `case` does not meet it, if it does not.
fn mismatch(
    case: &Case,
    observed: &Result<crate::support::conformance::Emitted, String>,
) -> Option<String> {
    match (&case.expect, observed) {
        (Expect::InitFails(text), Err(error)) if error.contains(text) => None,
        (Expect::InitFails(text), other) => Some(format!(
            "expected the job to fail with `{text}`, got {other:?}"
        )),
        (Expect::Runs { .. }, Err(error)) => Some(format!("the job failed: {error}")),
        (Expect::Runs { outputs, dead }, Ok(emitted)) => difference(outputs, dead, emitted),
    }
}

/// Runs the whole table against `language`'s operators, on one host whose modules are
/// compiled once; fails listing every case that does not conform.
fn conforms(language: &str) {
    let examples = Op::ALL.map(Op::example);
    let (host, modules) = host_with(language, Some(STATE_QUOTA), &examples);
    let mut failures = Vec::new();
    for case in cases() {
        let index = Op::ALL.iter().position(|op| *op == case.op).unwrap_or(0);
        let job = CaseJob {
            name: case.name,
            input: &case.input,
            source: case.source,
            config: case.config,
            operator: "",
            times: case.times,
        };
        let observed = run(&host, &modules[index], language, &job);
        if let Some(why) = mismatch(&case, &observed) {
            failures.push(format!("{language} {:?} `{}`: {why}", case.op, case.name));
        }
    }
    assert_all_conform(host, &failures);
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
fn every_language_has_every_example_operator() {
    for language in LANGUAGES.iter().filter(|l| **l != "rust") {
        for op in Op::ALL {
            let dir: PathBuf = repo_root()
                .join("example-operators")
                .join(language)
                .join(op.example());
            assert_eq!(
                cameo_lang::detect(&dir).map(|l| l.name()).ok(),
                Some(*language),
                "{}",
                dir.display()
            );
        }
    }
}
