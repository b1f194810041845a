//! The library as an embedder (or a server) uses it: plans with modules loaded elsewhere, live
//! job handles, cancellation, and refusals that leave the host as it was.

use std::path::Path;

use cameo_host::{
    Host, JobError, JobPlan, JobSpec, Limits, ModuleSource, OperatorEngine, OperatorModule,
};
use cameo_tests::guests;

use crate::support::{options, wait_for};

/// A generator of `count` events through `module` (resolved by the test's resolver) into a
/// memory sink.
fn generated_job(count: u64, rate: u64, module: &str) -> JobSpec {
    let toml = format!(
        r#"
name = "embedded"
tenant = "embedder"
[[source]]
name = "numbers"
kind = "generator"
count = {count}
rate = {rate}
keys = 4
[[operator]]
name = "pick"
module = "{module}"
inputs = ["numbers"]
config = {{ field = "value", min = 0 }}
[[sink]]
name = "out"
kind = "memory"
inputs = ["pick"]
"#
    );
    JobSpec::parse(&toml, "embedded.toml", Path::new(".").into()).unwrap()
}

fn filter_module(host: &Host) -> OperatorModule {
    OperatorModule::load_file(host.engine(), Path::new(guests::FILTER)).unwrap()
}

#[test]
fn a_plan_takes_modules_a_registry_loaded_and_runs_them() {
    let mut host = Host::new(options()).unwrap();
    let module = filter_module(&host);
    let spec = generated_job(500, 0, "filter@1");
    let plan = JobPlan::with_modules(&spec, |name| match name {
        "filter@1" => Ok(ModuleSource::Loaded(module.clone())),
        other => Err(format!("no module {other} in the registry")),
    })
    .unwrap();
    assert_eq!((plan.name(), plan.tenant()), ("embedded", "embedder"));
    let job = host.submit_plan(&plan).unwrap();
    host.start().unwrap();
    let outcome = job.wait().unwrap();
    host.shutdown();
    assert_eq!(outcome.summary.events_in, 500);
    assert_eq!(outcome.outputs["out"].len(), 500, "{:?}", outcome.summary);
}

#[test]
fn a_module_the_resolver_cannot_find_is_refused_naming_the_operator() {
    let spec = generated_job(10, 0, "filter@7");
    let err = JobPlan::with_modules(&spec, |name| Err(format!("{name} is not in the registry")))
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "operator \"pick\": module \"filter@7\": filter@7 is not in the registry"
    );
}

#[test]
fn a_job_refused_at_submission_leaves_the_host_able_to_run_the_next() {
    let host = Host::new(options()).unwrap();
    let module = filter_module(&host);
    // The filter does not export the windowed interface the window asks for.
    let windowed = JobSpec::parse(
        r#"
name = "refused"
[[source]]
name = "numbers"
kind = "generator"
count = 10
[[operator]]
name = "pick"
module = "filter@1"
inputs = ["numbers"]
window = { kind = "tumbling", size_ms = 10 }
[[sink]]
name = "out"
kind = "memory"
inputs = ["pick"]
"#,
        "refused.toml",
        Path::new(".").into(),
    )
    .unwrap();
    let plan =
        JobPlan::with_modules(&windowed, |_| Ok(ModuleSource::Loaded(module.clone()))).unwrap();
    let err = match host.submit_plan(&plan) {
        Ok(_) => panic!("a module without the windowed export was accepted"),
        Err(err) => err.to_string(),
    };
    assert!(
        err.contains("operator \"pick\": the job declares a window for it")
            && err.contains("cameo:operator/windowed"),
        "{err}"
    );
    let mut host = host;
    let plan = JobPlan::with_modules(&generated_job(100, 0, "filter@1"), |_| {
        Ok(ModuleSource::Loaded(module.clone()))
    })
    .unwrap();
    let job = host.submit_plan(&plan).unwrap();
    host.start().unwrap();
    let outcome = job.wait().unwrap();
    host.shutdown();
    assert_eq!(outcome.outputs["out"].len(), 100);
}

#[test]
fn a_module_of_another_engine_is_refused_before_the_job_starts() {
    let other = OperatorEngine::new(Limits::default()).unwrap();
    let module = OperatorModule::load_file(&other, Path::new(guests::FILTER)).unwrap();
    let plan = JobPlan::with_modules(&generated_job(10, 0, "filter@1"), |_| {
        Ok(ModuleSource::Loaded(module.clone()))
    })
    .unwrap();
    let host = Host::new(options()).unwrap();
    let err = match host.submit_plan(&plan) {
        Ok(_) => panic!("a module of another engine was accepted"),
        Err(err) => err.to_string(),
    };
    assert_eq!(
        err,
        "operator \"pick\": filter.wasm was loaded by another engine; load it with this \
         host's engine (Host::engine)"
    );
}

#[test]
fn a_running_job_reports_live_figures_and_ends_when_cancelled() {
    let mut host = Host::new(options()).unwrap();
    let module = filter_module(&host);
    // A million events at 2000 a second: far more than the test waits for.
    let plan = JobPlan::with_modules(&generated_job(1_000_000, 2000, "filter@1"), |_| {
        Ok(ModuleSource::Loaded(module.clone()))
    })
    .unwrap();
    let job = host.submit_plan(&plan).unwrap();
    host.start().unwrap();
    wait_for("the first outputs", || {
        job.is_finished() || job.summary().events_out > 0
    });
    assert!(!job.is_finished());
    job.cancel();
    assert!(job.is_finished());
    let err = job.wait().unwrap_err();
    host.shutdown();
    assert!(matches!(err, JobError::Cancelled { .. }), "{err:?}");
    assert_eq!(err.to_string(), "job \"embedded\" was cancelled");
}

#[test]
fn instances_taken_from_a_pool_of_slots_run_a_job() {
    let run_with = |instances: u32| {
        let mut options = options();
        options.allocation = cameo_host::Allocation::Pooling { instances };
        let mut host = Host::new(options).unwrap();
        let module = filter_module(&host);
        let spec = generated_job(200, 0, "filter@1");
        let plan =
            JobPlan::with_modules(&spec, |_| Ok(ModuleSource::Loaded(module.clone()))).unwrap();
        let job = host.submit_plan(&plan).unwrap();
        host.start().unwrap();
        let outcome = job.wait().unwrap();
        host.shutdown();
        outcome
    };
    let pooled = run_with(4);
    assert_eq!(pooled.outputs["out"].len(), 200, "{:?}", pooled.summary);
}
