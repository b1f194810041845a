//! What every conformance table shares: each language's example component, one host per
//! language with a fuel budget that fits it, one job per case (a file source, the operator, a
//! memory sink and a dead-letter file), and the comparison of what the job emitted with what
//! the table says.

use std::path::PathBuf;

use cameo_host::{Host, JobPlan, ModuleSource, OperatorModule, RunOptions};
use cameo_tests::guests;

use crate::support::{options, repo_root};

/// The languages, as `cameo operator new --lang` names them.
pub const LANGUAGES: [&str; 4] = ["rust", "python", "js", "c"];

/// Fuel one call may burn, per language: the Rust tests' budget times how much more fuel the
/// language burns for the same work (measured: Python about 7x, JavaScript about 16x).
pub fn fuel_per_call(language: &str) -> u64 {
    let rust = options().limits.fuel_per_call;
    match language {
        "python" => rust * 10,
        "js" => rust * 20,
        _ => rust,
    }
}

/// The component of the example operator `name` (`filter`, `wordcount`, `window-agg`,
/// `timer-count`) in `language`: Rust from the tests' build script, the others built by
/// cameo-lang into `target/guests/<language>` (skipped when their inputs are unchanged).
pub fn component(language: &str, name: &str) -> PathBuf {
    if language == "rust" {
        let path = match name {
            "filter" => guests::FILTER,
            "wordcount" => guests::WORDCOUNT,
            "window-agg" => guests::WINDOW_AGG,
            "timer-count" => guests::TIMER_COUNT,
            other => panic!("no Rust guest named {other}"),
        };
        return PathBuf::from(path);
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

/// A started host for `language`'s cases, with its fuel budget and `state_quota` (bytes per
/// tenant, when given), and the loaded components of `examples`, in that order.
pub fn host_with(
    language: &str,
    state_quota: Option<u64>,
    examples: &[&str],
) -> (Host, Vec<OperatorModule>) {
    let mut run_options: RunOptions = options();
    run_options.limits.fuel_per_call = fuel_per_call(language);
    if let Some(quota) = state_quota {
        run_options.limits.state_bytes = quota;
    }
    let mut host = Host::new(run_options).expect("host");
    let modules = examples
        .iter()
        .map(|name| {
            let path = component(language, name);
            OperatorModule::load_file(host.engine(), &path)
                .unwrap_or_else(|err| panic!("{} does not load: {err}", path.display()))
        })
        .collect();
    host.start().expect("start");
    (host, modules)
}

/// One job of a case: the input file's lines through the operator into a memory sink.
pub struct CaseJob<'a> {
    /// Names the job and its tenant (with the language), so every case has its own state.
    pub name: &'a str,
    /// Lines of the input file.
    pub input: &'a [String],
    /// Extra lines of the source table (`format`, `key_field`, `event_time_field`, ...).
    pub source: &'a str,
    /// The operator's config, a TOML inline table.
    pub config: &'a str,
    /// Extra lines of the operator table (`window = ...`).
    pub operator: &'a str,
    /// Whether outputs are rendered with their event time.
    pub times: bool,
}

/// What a job emitted: outputs (`key value[ @time]`, `-` for no key) and dead letters
/// (value, reason).
#[derive(Debug)]
pub struct Emitted {
    /// Outputs in the order the sink received them.
    pub outputs: Vec<String>,
    /// Dead letters in the order they were written.
    pub dead: Vec<(String, String)>,
}

/// Runs `job` with `module` on `host`; the job's error as text when it fails.
pub fn run(
    host: &Host,
    module: &OperatorModule,
    language: &str,
    job: &CaseJob,
) -> Result<Emitted, String> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    std::fs::write(dir.path().join("input.txt"), job.input.join("\n"))
        .map_err(|e| e.to_string())?;
    let tenant: String = format!("{language}-{}", job.name)
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    let toml = format!(
        r#"
name = "{tenant}"
tenant = "{tenant}"
dead_letter = {{ path = "dead.ndjson" }}
[[source]]
name = "in"
kind = "file"
path = "input.txt"
{source}
[[operator]]
name = "op"
module = "the-module"
inputs = ["in"]
config = {config}
{operator}
[[sink]]
name = "out"
kind = "memory"
inputs = ["op"]
"#,
        source = job.source,
        config = job.config,
        operator = job.operator,
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
        .map(|events| events.iter().map(|e| render(e, job.times)).collect())
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
    Ok(Emitted { outputs, dead })
}

/// An output as the tables write it: the key (or `-`), the value, and with `times` the event
/// time.
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

/// Why `emitted` differs from the expected outputs and dead letters (value, a text its
/// reason contains), if it does.
pub fn difference(outputs: &[String], dead: &[(&str, &str)], emitted: &Emitted) -> Option<String> {
    if outputs != emitted.outputs {
        return Some(format!(
            "outputs\n  expected {}\n  got      {}",
            shown(outputs),
            shown(&emitted.outputs)
        ));
    }
    let dead_ok = dead.len() == emitted.dead.len()
        && dead
            .iter()
            .zip(&emitted.dead)
            .all(|((value, reason), (got_value, got_reason))| {
                value == got_value && got_reason.contains(reason)
            });
    (!dead_ok).then(|| {
        let expected: Vec<String> = dead.iter().map(|(v, r)| format!("{v} => {r}")).collect();
        let got: Vec<String> = emitted
            .dead
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

/// Shuts `host` down and fails listing every case that did not conform.
pub fn assert_all_conform(host: Host, failures: &[String]) {
    host.shutdown();
    assert!(
        failures.is_empty(),
        "{} case(s) do not conform:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
