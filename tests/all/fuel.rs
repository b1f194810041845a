//! Fuel per operator: a spec's `fuel_per_call` replaces the host's for that operator's calls,
//! within the host's bound (`max_fuel_per_call`), which no spec can raise.

use cameo_host::JobError;
use cameo_tests::guests;

use crate::support::{options, parse, values};

/// A job running `spin-slice` (a fixed amount of work per event) over three events, with
/// `fuel` as the operator's own fuel per call when given.
fn spin_job(dir: &std::path::Path, fuel: Option<u64>) -> cameo_host::JobSpec {
    std::fs::write(dir.join("input.txt"), "a\nb\nc\n").unwrap();
    let fuel = fuel.map_or(String::new(), |fuel| format!("fuel_per_call = {fuel}\n"));
    parse(
        &format!(
            r#"
name = "fuel"
[[source]]
name = "in"
kind = "file"
path = "input.txt"
[[operator]]
name = "op"
module = {module:?}
inputs = ["in"]
config = {{ iterations = 200000 }}
{fuel}
[[sink]]
name = "out"
kind = "memory"
inputs = ["op"]
"#,
            module = guests::SPIN_SLICE,
        ),
        dir,
    )
}

/// Host options whose default fuel per call is too small for one spin-slice call.
fn small_default() -> cameo_host::RunOptions {
    let mut options = options();
    options.limits.fuel_per_call = 100_000;
    options.limits.max_fuel_per_call = 1_000_000_000;
    options
}

#[test]
fn an_operator_that_asks_for_more_fuel_per_call_gets_it() {
    let dir = tempfile::tempdir().unwrap();
    let starved = crate::support::run(&spin_job(dir.path(), None), &small_default());
    assert_eq!(starved.summary.errors, 3, "{:?}", starved.summary);
    assert!(
        starved.summary.error_samples[0].contains("ran out of fuel"),
        "{:?}",
        starved.summary.error_samples
    );
    let fed = crate::support::run(&spin_job(dir.path(), Some(500_000_000)), &small_default());
    assert_eq!(fed.summary.errors, 0, "{:?}", fed.summary);
    assert_eq!(values(&fed, "out"), ["a", "b", "c"]);
}

#[test]
fn no_spec_raises_fuel_per_call_past_the_hosts_bound() {
    let dir = tempfile::tempdir().unwrap();
    let err = cameo_host::run_job(&spin_job(dir.path(), Some(2_000_000_000)), &small_default())
        .unwrap_err();
    assert!(matches!(err, JobError::FuelCeiling { .. }), "{err}");
    assert_eq!(
        err.to_string(),
        "operator \"op\": fuel_per_call = 2000000000 is above this host's bound of 1000000000 \
         fuel per call (max_fuel_per_call); ask for less, or start the host with a higher \
         --max-fuel-per-call"
    );
}

#[test]
fn a_fuel_per_call_of_zero_is_refused_with_its_line() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("input.txt"), "a\n").unwrap();
    let err = cameo_host::JobSpec::parse(
        "name = \"z\"\n[[source]]\nname = \"in\"\nkind = \"file\"\npath = \"input.txt\"\n\
         [[operator]]\nname = \"op\"\nmodule = \"op.wasm\"\ninputs = [\"in\"]\n\
         fuel_per_call = 0\n[[sink]]\nname = \"out\"\nkind = \"memory\"\ninputs = [\"op\"]\n",
        "job.toml",
        dir.path().to_path_buf(),
    )
    .unwrap_err();
    let text = err.to_string();
    assert!(
        text.starts_with("job.toml:10: ") && text.contains("`fuel_per_call` of \"op\" is 0"),
        "{text}"
    );
}
