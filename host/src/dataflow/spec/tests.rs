//! Job spec tests: parsing, defaults and the errors a bad spec gets.

use super::*;

fn parse(source: &str) -> Result<JobSpec, SpecError> {
    JobSpec::parse(source, "job.toml", PathBuf::new())
}

const MINIMAL: &str = r#"
name = "j"
[[source]]
name = "in"
kind = "generator"
count = 10
[[operator]]
name = "op"
module = "op.wasm"
inputs = ["in"]
[[sink]]
name = "out"
kind = "stdout"
inputs = ["op"]
"#;

#[test]
fn a_minimal_spec_parses_with_defaults() {
    let spec = parse(MINIMAL).unwrap();
    assert_eq!(spec.tenant, "default");
    assert_eq!(*spec.latency_target_ms.get_ref(), 1000);
    assert_eq!(*spec.operators[0].parallelism.get_ref(), 1);
}

#[test]
fn an_unknown_input_is_named_with_its_line() {
    let err = parse(&MINIMAL.replace(r#"inputs = ["in"]"#, r#"inputs = ["inn"]"#)).unwrap_err();
    let text = err.to_string();
    assert!(text.starts_with("job.toml:10:"), "{text}");
    assert!(
        text.contains("\"inn\", which is no source or operator"),
        "{text}"
    );
}

#[test]
fn a_name_used_twice_is_refused_with_what_uses_it() {
    let text = parse(&MINIMAL.replace(r#"name = "out""#, r#"name = "op""#))
        .unwrap_err()
        .to_string();
    assert!(text.starts_with("job.toml:12:"), "{text}");
    assert!(
        text.contains("\"op\" is used twice (an operator and a sink)"),
        "{text}"
    );
}

#[test]
fn a_name_with_a_character_labels_use_is_refused() {
    let text = parse(&MINIMAL.replace(r#"name = "out""#, r##"name = "out#2""##))
        .unwrap_err()
        .to_string();
    assert_eq!(
        text,
        "job.toml:12: a sink is named \"out#2\", with `#` in it; names may not contain `/`, \
         `#` or `:` (they label instances as `job/operator#1` and late outputs as \
         `operator:late`)"
    );
}

#[test]
fn a_misspelt_field_is_named_with_its_line() {
    let err = parse(&MINIMAL.replace("module =", "modul ="))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("job.toml:9:") && err.contains("unknown field `modul`"),
        "{err}"
    );
}

#[test]
fn a_cycle_is_rejected() {
    let spec = format!(
        "{MINIMAL}\n[[operator]]\nname = \"a\"\nmodule = \"m\"\ninputs = [\"b\"]\n[[operator]]\nname = \"b\"\nmodule = \"m\"\ninputs = [\"a\"]\n"
    );
    let err = parse(&spec).unwrap_err().to_string();
    assert!(err.contains("feeds back into itself"), "{err}");
}

#[test]
fn a_window_missing_its_size_is_named() {
    let spec = MINIMAL.replace(
        "inputs = [\"in\"]",
        "inputs = [\"in\"]\nwindow = { kind = \"sliding\", size_ms = 10 }",
    );
    let err = parse(&spec).unwrap_err().to_string();
    assert!(
        err.contains("`window` of \"op\": a sliding window needs `slide_ms`"),
        "{err}"
    );
}

#[test]
fn late_output_is_only_for_windowed_operators() {
    let spec = MINIMAL.replace("inputs = [\"op\"]", "inputs = [\"op:late\"]");
    let err = parse(&spec).unwrap_err().to_string();
    assert!(
        err.contains("names \"op:late\", which is no source or operator"),
        "{err}"
    );
    let spec = spec.replace(
        "inputs = [\"in\"]",
        "inputs = [\"in\"]\nwindow = { kind = \"tumbling\", size_ms = 10 }",
    );
    parse(&spec).unwrap();
}

#[test]
fn a_latency_target_past_a_day_is_refused() {
    let err = parse(&MINIMAL.replace(
        "name = \"j\"",
        "name = \"j\"\nlatency_target_ms = 18446744073709551615",
    ))
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("job.toml:3:") && err.contains("between 1 and 86400000"),
        "{err}"
    );
}

#[test]
fn zero_parallelism_is_rejected() {
    let err = parse(&MINIMAL.replace("inputs = [\"in\"]", "inputs = [\"in\"]\nparallelism = 0"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("`parallelism` of \"op\" is 0"), "{err}");
}

#[test]
fn an_exact_generator_takes_an_event_rate_and_no_seed() {
    let exact = MINIMAL.replace(
        "count = 10",
        "count = 10\nmode = \"exact\"\nevent_rate = 1000\nkeys = 4",
    );
    let spec = parse(&exact).unwrap();
    assert_eq!(
        spec.sources[0].generator_mode(),
        crate::dataflow::source::generator::GeneratorMode::Exact
    );
    assert_eq!(
        spec.sources[0].event_rate.as_ref().map(|r| *r.get_ref()),
        Some(1000)
    );

    let no_rate = exact.replace("event_rate = 1000\n", "");
    let err = parse(&no_rate).unwrap_err().to_string();
    assert!(
        err.starts_with("job.toml:7:")
            && err.contains("exact generator \"in\" needs an `event_rate`"),
        "{err}"
    );

    let zero = exact.replace("event_rate = 1000", "event_rate = 0");
    let err = parse(&zero).unwrap_err().to_string();
    assert!(
        err.starts_with("job.toml:8:") && err.contains("`event_rate` must be at least 1"),
        "{err}"
    );

    let seeded = exact.replace("keys = 4", "keys = 4\nseed = 3");
    let err = parse(&seeded).unwrap_err().to_string();
    assert!(
        err.starts_with("job.toml:10:")
            && err.contains("`seed` does not apply to exact generators"),
        "{err}"
    );
}

#[test]
fn generator_modes_and_event_rates_are_checked_where_they_apply() {
    let hashed_with_rate = MINIMAL.replace("count = 10", "count = 10\nevent_rate = 5");
    let err = parse(&hashed_with_rate).unwrap_err().to_string();
    assert!(
        err.starts_with("job.toml:7:")
            && err.contains("`event_rate` applies only to exact generators"),
        "{err}"
    );

    let unknown = MINIMAL.replace("count = 10", "count = 10\nmode = \"sorted\"");
    let err = parse(&unknown).unwrap_err().to_string();
    assert!(
        err.starts_with("job.toml:7:") && err.contains("unknown variant `sorted`"),
        "{err}"
    );

    let on_a_file = MINIMAL.replace(
        "kind = \"generator\"\ncount = 10",
        "kind = \"file\"\npath = \"in.txt\"\nmode = \"exact\"",
    );
    let err = parse(&on_a_file).unwrap_err().to_string();
    assert!(
        err.starts_with("job.toml:7:")
            && err.contains("`mode` does not apply to file and stdin sources like \"in\""),
        "{err}"
    );

    let hashed = MINIMAL.replace("count = 10", "count = 10\nmode = \"hashed\"\nseed = 9");
    parse(&hashed).unwrap();
}
