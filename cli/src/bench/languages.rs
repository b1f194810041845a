//! `languages`: the same operators written in Rust, Python, JavaScript and C, measured side
//! by side in one run, each figure also given as a ratio to Rust's from the same round:
//!
//! - the `filter` component's size;
//! - the host's compile time of it, cold and from the compiled-code cache;
//! - instantiation time and memory per idle instance (a density probe in a process of its
//!   own, loading through the cache);
//! - events/s of `filter` and `wordcount` on one worker at batch 64 (generator -> operator ->
//!   discard);
//! - the wall time of a small `cameo run` (two events through `filter` to stdout) with a warm
//!   cache: the time to first output, bounded above;
//! - the SDK's glue against hand-written bindings: events/s of `filter-raw` and
//!   `wordcount-raw`, the same operators written against the generated bindings alone, where
//!   a language has them.
//!
//! Rounds alternate languages, so load on the (shared) machine spreads over all of them.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use indicatif::ProgressBar;
use serde::Serialize;

use super::density::{Probe, probe_command};
use super::{BenchError, example_operator, median};
use cameo_host::{
    JobSpec, Limits, OperatorEngine, OperatorModule, PolicyKind, RunOptions, run_job,
};

/// The languages, as `cameo operator new --lang` names them; Rust is the reference.
pub const LANGUAGES: [&str; 4] = ["rust", "python", "js", "c"];

/// Events per call at most in the throughput runs.
pub const BATCH_SIZE: usize = 64;

/// Knobs of a languages run.
#[derive(Debug, Clone)]
pub struct LanguagesOptions {
    /// The example operators' root (holding `rust/`, `python/`, `js/`, `c/`).
    pub examples: PathBuf,
    /// Where the Python, JavaScript and C components and the compiled-code cache go.
    pub build_dir: PathBuf,
    /// Events per throughput run.
    pub events: u64,
    /// Idle instances per density probe.
    pub instances: u64,
    /// Rounds (medians are reported).
    pub rounds: usize,
}

/// The figures of one language (medians over the rounds).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct LanguageRow {
    /// `rust`, `python`, `js` or `c`.
    pub language: String,
    /// Bytes of the `filter` component.
    pub component_bytes: u64,
    /// Host compile time of `filter`, cold, ms.
    pub compile_ms: f64,
    /// Host load time of `filter` from the compiled-code cache, ms.
    pub cached_ms: f64,
    /// Instantiation time of `filter`, median, µs.
    pub instantiate_us: f64,
    /// Resident memory per idle `filter` instance, bytes.
    pub bytes_per_instance: f64,
    /// `filter` events/s at batch 64, one worker.
    pub filter_eps: f64,
    /// `wordcount` events/s at batch 64, one worker.
    pub wordcount_eps: f64,
    /// `filter`'s fuel per event.
    pub filter_fuel_per_event: f64,
    /// `wordcount`'s fuel per event.
    pub wordcount_fuel_per_event: f64,
    /// `filter-raw` (hand-written bindings) events/s, where the language has one.
    pub filter_raw_eps: Option<f64>,
    /// `wordcount-raw` (hand-written bindings) events/s, where the language has one.
    pub wordcount_raw_eps: Option<f64>,
    /// Wall time of a two-event `cameo run` with a warm cache, s.
    pub first_output_s: f64,
    /// Per figure, this language's over Rust's, medians of the per-round ratios; besides,
    /// the SDK's glue: `sdk_vs_raw` (`_wordcount`), the SDK operator's events/s over the
    /// hand-written one's, and `sdk_vs_raw_fuel` (`sdk_vs_raw_wordcount_fuel`), the
    /// hand-written one's fuel per event over the SDK one's (deterministic).
    pub vs_rust: BTreeMap<String, f64>,
}

/// The report of `cameo bench languages`.
#[derive(Debug, Clone, Serialize)]
pub struct LanguagesReport {
    /// Events per throughput run.
    pub events: u64,
    /// Events per call at most.
    pub batch_size: usize,
    /// Idle instances per density probe.
    pub instances: u64,
    /// Rounds each figure is the median of.
    pub rounds: usize,
    /// One row per language, Rust first.
    pub rows: Vec<LanguageRow>,
}

/// The components of one language.
struct Components {
    filter: PathBuf,
    wordcount: PathBuf,
    filter_raw: Option<PathBuf>,
    wordcount_raw: Option<PathBuf>,
}

/// Builds `name` in `language`: Rust with cargo, the others with cameo-lang.
fn build(options: &LanguagesOptions, language: &str, name: &str) -> Result<PathBuf, BenchError> {
    let dir = options.examples.join(language);
    if language == "rust" {
        return example_operator(&dir, name);
    }
    let out = options.build_dir.join(language);
    cameo_lang::build(&dir.join(name), Some(&out)).map_err(|source| BenchError::Language {
        operator: format!("{language}/{name}"),
        source,
    })
}

fn components(options: &LanguagesOptions, language: &str) -> Result<Components, BenchError> {
    let optional = |name: &str| -> Result<Option<PathBuf>, BenchError> {
        if options.examples.join(language).join(name).is_dir() {
            Ok(Some(build(options, language, name)?))
        } else {
            Ok(None)
        }
    };
    Ok(Components {
        filter: build(options, language, "filter")?,
        wordcount: build(options, language, "wordcount")?,
        filter_raw: optional("filter-raw")?,
        wordcount_raw: optional("wordcount-raw")?,
    })
}

/// generator -> `module` -> discard over `events` events.
fn throughput_spec(module: &Path, config: &str, events: u64) -> String {
    format!(
        "name = \"languages\"\ntenant = \"bench\"\nlatency_target_ms = 1000\n\
         [[source]]\nname = \"seq\"\nkind = \"generator\"\nmode = \"exact\"\ncount = {events}\n\
         keys = 1000\nevent_rate = 1000000\n\
         [[operator]]\nname = \"op\"\nmodule = {:?}\ninputs = [\"seq\"]\nconfig = {config}\n\
         [[sink]]\nname = \"out\"\nkind = \"discard\"\ninputs = [\"op\"]\n",
        module.display().to_string()
    )
}

const FILTER_CONFIG: &str = "{ field = \"value\", min = 0 }";

/// Events/s and fuel per event of `module` on one worker at batch 64, compiled code from
/// `cache`.
fn throughput(
    module: &Path,
    config: &str,
    events: u64,
    cache: &Path,
) -> Result<Throughput, BenchError> {
    let spec = throughput_spec(module, config, events);
    let job = JobSpec::parse(&spec, "languages.toml", std::env::temp_dir())?;
    let defaults = Limits::default();
    let options = RunOptions {
        workers: 1,
        policy: PolicyKind::Fifo,
        limits: Limits {
            batch_size: BATCH_SIZE,
            // Interpreters burn 7-16x the fuel of compiled code; the work here is finite.
            fuel_per_call: defaults.fuel_per_call * 20,
            ..defaults
        },
        compiled_cache: Some(cache.to_path_buf()),
        ..RunOptions::default()
    };
    let summary = run_job(&job, &options)?.summary;
    Ok(Throughput {
        eps: summary.throughput_eps,
        fuel_per_event: summary.fuel as f64 / summary.events_in.max(1) as f64,
    })
}

/// What one throughput run measured.
#[derive(Clone, Copy)]
struct Throughput {
    eps: f64,
    /// Fuel per event taken in: deterministic, so the glue's cost shows on a loaded machine.
    fuel_per_event: f64,
}

/// Cold compile and cached load of the component at `path`, ms.
fn compile_times(path: &Path, cache: &Path) -> Result<(f64, f64), BenchError> {
    let engine = OperatorEngine::new(Limits::default()).map_err(cameo_host::JobError::from)?;
    let bytes = std::fs::read(path)?;
    let name = path.display().to_string();
    let started = Instant::now();
    drop(OperatorModule::load_bytes(&engine, &name, &bytes)?);
    let cold = started.elapsed().as_secs_f64() * 1e3;
    // The first cached load fills the cache when it is empty; the second is a hit.
    drop(OperatorModule::load_cached(&engine, &name, &bytes, cache)?);
    let started = Instant::now();
    drop(OperatorModule::load_cached(&engine, &name, &bytes, cache)?);
    Ok((cold, started.elapsed().as_secs_f64() * 1e3))
}

/// Wall time of `cameo run` on two events through `filter` into stdout, cache warm, s.
fn first_output_s(filter: &Path, cache: &Path, scratch: &Path) -> Result<f64, BenchError> {
    std::fs::create_dir_all(scratch)?;
    std::fs::write(scratch.join("two.ndjson"), "{\"value\":1}\n{\"value\":2}\n")?;
    let job = scratch.join("first-output.toml");
    std::fs::write(
        &job,
        format!(
            "name = \"first-output\"\n\
             [[source]]\nname = \"in\"\nkind = \"file\"\npath = \"two.ndjson\"\n\
             [[operator]]\nname = \"op\"\nmodule = {:?}\ninputs = [\"in\"]\nconfig = {FILTER_CONFIG}\n\
             [[sink]]\nname = \"out\"\nkind = \"stdout\"\ninputs = [\"op\"]\n",
            filter.display().to_string()
        ),
    )?;
    let exe = std::env::current_exe()?;
    let run = || -> Result<f64, BenchError> {
        let started = Instant::now();
        let status = Command::new(&exe)
            .arg("run")
            .arg(&job)
            .arg("--cache-dir")
            .arg(cache)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()?;
        if !status.success() {
            return Err(BenchError::Run(format!(
                "`cameo run {}` failed ({status})",
                job.display()
            )));
        }
        Ok(started.elapsed().as_secs_f64())
    };
    run()?; // warms the cache
    run()
}

/// One round's figures of one language.
struct Round {
    compile_ms: f64,
    cached_ms: f64,
    probe: Probe,
    filter: Throughput,
    wordcount: Throughput,
    filter_raw: Option<Throughput>,
    wordcount_raw: Option<Throughput>,
    first_output_s: f64,
}

impl Round {
    /// The figures compared with Rust's, by name.
    fn figures(&self) -> Vec<(&'static str, f64)> {
        let mut figures = vec![
            ("compile_ms", self.compile_ms),
            ("cached_ms", self.cached_ms),
            ("instantiate_us", self.probe.p50_us),
            ("bytes_per_instance", self.probe.bytes_per_instance),
            ("filter_eps", self.filter.eps),
            ("wordcount_eps", self.wordcount.eps),
            ("first_output_s", self.first_output_s),
        ];
        if let Some(raw) = self.filter_raw {
            figures.push(("filter_raw_eps", raw.eps));
        }
        if let Some(raw) = self.wordcount_raw {
            figures.push(("wordcount_raw_eps", raw.eps));
        }
        figures
    }
}

fn measure(
    options: &LanguagesOptions,
    language: &str,
    parts: &Components,
    cache: &Path,
) -> Result<Round, BenchError> {
    let (compile_ms, cached_ms) = compile_times(&parts.filter, cache)?;
    let probe = probe_command(&parts.filter, options.instances, Some(cache))?;
    let filter = throughput(&parts.filter, FILTER_CONFIG, options.events, cache)?;
    let wordcount = throughput(&parts.wordcount, "{}", options.events, cache)?;
    let filter_raw = match &parts.filter_raw {
        Some(raw) => Some(throughput(raw, FILTER_CONFIG, options.events, cache)?),
        None => None,
    };
    let wordcount_raw = match &parts.wordcount_raw {
        Some(raw) => Some(throughput(raw, "{}", options.events, cache)?),
        None => None,
    };
    let scratch = options.build_dir.join("first-output").join(language);
    let first_output_s = first_output_s(&parts.filter, cache, &scratch)?;
    Ok(Round {
        compile_ms,
        cached_ms,
        probe,
        filter,
        wordcount,
        filter_raw,
        wordcount_raw,
        first_output_s,
    })
}

/// Builds every language's operators, then measures them `rounds` times, alternating.
pub fn run(options: &LanguagesOptions) -> Result<LanguagesReport, BenchError> {
    let rounds = options.rounds.max(1);
    let progress = ProgressBar::new((LANGUAGES.len() * (rounds + 1)) as u64);
    let mut built = Vec::new();
    for language in LANGUAGES {
        built.push(components(options, language)?);
        progress.inc(1);
    }
    let cache = options.build_dir.join("compiled");
    if cache.exists() {
        std::fs::remove_dir_all(&cache)?;
    }
    std::fs::create_dir_all(&cache)?;
    let mut all: Vec<Vec<Round>> = LANGUAGES.iter().map(|_| Vec::new()).collect();
    for _ in 0..rounds {
        for (index, language) in LANGUAGES.iter().enumerate() {
            all[index].push(measure(options, language, &built[index], &cache)?);
            progress.inc(1);
        }
    }
    progress.finish_and_clear();
    let rows = LANGUAGES
        .iter()
        .zip(&built)
        .zip(&all)
        .map(|((language, parts), runs)| row(language, parts, runs, &all[0]))
        .collect::<Result<Vec<_>, BenchError>>()?;
    Ok(LanguagesReport {
        events: options.events,
        batch_size: BATCH_SIZE,
        instances: options.instances,
        rounds,
        rows,
    })
}

/// The medians of one language's rounds, and its ratios to Rust's rounds.
fn row(
    language: &str,
    parts: &Components,
    runs: &[Round],
    rust: &[Round],
) -> Result<LanguageRow, BenchError> {
    let pick = |f: &dyn Fn(&Round) -> f64| median(&mut runs.iter().map(f).collect::<Vec<_>>());
    let mut ratios: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    for (mine, reference) in runs.iter().zip(rust) {
        let base: BTreeMap<&str, f64> = reference.figures().into_iter().collect();
        for (name, value) in mine.figures() {
            if let Some(base) = base.get(name).filter(|base| **base > 0.0) {
                ratios
                    .entry(name.to_string())
                    .or_default()
                    .push(value / base);
            }
        }
        // The SDK's glue: the SDK operator's speed over the hand-written one's, same round,
        // and the hand-written one's fuel per event over the SDK one's.
        for (name, sdk, raw) in [
            ("sdk_vs_raw", mine.filter, mine.filter_raw),
            ("sdk_vs_raw_wordcount", mine.wordcount, mine.wordcount_raw),
        ] {
            let Some(raw) = raw else {
                continue;
            };
            if raw.eps > 0.0 {
                ratios
                    .entry(name.to_string())
                    .or_default()
                    .push(sdk.eps / raw.eps);
            }
            if sdk.fuel_per_event > 0.0 {
                ratios
                    .entry(format!("{name}_fuel"))
                    .or_default()
                    .push(raw.fuel_per_event / sdk.fuel_per_event);
            }
        }
    }
    let raws: Vec<f64> = runs
        .iter()
        .filter_map(|r| r.filter_raw.map(|t| t.eps))
        .collect();
    let wordcount_raws: Vec<f64> = runs
        .iter()
        .filter_map(|r| r.wordcount_raw.map(|t| t.eps))
        .collect();
    Ok(LanguageRow {
        language: language.to_string(),
        component_bytes: std::fs::metadata(&parts.filter)?.len(),
        compile_ms: pick(&|r| r.compile_ms),
        cached_ms: pick(&|r| r.cached_ms),
        instantiate_us: pick(&|r| r.probe.p50_us),
        bytes_per_instance: pick(&|r| r.probe.bytes_per_instance),
        filter_eps: pick(&|r| r.filter.eps),
        wordcount_eps: pick(&|r| r.wordcount.eps),
        filter_fuel_per_event: pick(&|r| r.filter.fuel_per_event),
        wordcount_fuel_per_event: pick(&|r| r.wordcount.fuel_per_event),
        filter_raw_eps: (!raws.is_empty()).then(|| median(&mut raws.clone())),
        wordcount_raw_eps: (!wordcount_raws.is_empty())
            .then(|| median(&mut wordcount_raws.clone())),
        first_output_s: pick(&|r| r.first_output_s),
        vs_rust: ratios
            .into_iter()
            .map(|(name, mut values)| (name, median(&mut values)))
            .collect(),
    })
}

impl std::fmt::Display for LanguagesReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "filter and wordcount per language, {} events per run at batch {}, one worker; \
             medians of {} rounds (x Rust: ratio to Rust in the same round)",
            self.events, self.batch_size, self.rounds
        )?;
        writeln!(
            f,
            "{:<7} {:>9} {:>11} {:>10} {:>9} {:>9} {:>16} {:>18} {:>13} {:>10} {:>10}",
            "lang",
            "size KiB",
            "compile ms",
            "cached ms",
            "inst µs",
            "KiB/inst",
            "filter ev/s",
            "wordcount ev/s",
            "SDK/raw",
            "SDK/raw wc",
            "1st out s"
        )?;
        writeln!(
            f,
            "  (SDK/raw: events/s, then by fuel per event, raw over SDK: 1.00 is no glue cost)"
        )?;
        for row in &self.rows {
            let ratio = |name: &str| row.vs_rust.get(name).copied().unwrap_or(0.0);
            let glue = |name: &str| {
                row.vs_rust
                    .get(name)
                    .map_or("-".to_string(), |r| format!("{r:.2}"))
            };
            let glue = |name: &str| format!("{} {}", glue(name), glue(&format!("{name}_fuel")));
            writeln!(
                f,
                "{:<7} {:>9.0} {:>11.0} {:>10.1} {:>9.0} {:>9.0} {:>9.0} ({:>4.2}x) {:>10.0} ({:>5.2}x) {:>13} {:>10} {:>10.2}",
                row.language,
                row.component_bytes as f64 / 1024.0,
                row.compile_ms,
                row.cached_ms,
                row.instantiate_us,
                row.bytes_per_instance / 1024.0,
                row.filter_eps,
                ratio("filter_eps"),
                row.wordcount_eps,
                ratio("wordcount_eps"),
                glue("sdk_vs_raw"),
                glue("sdk_vs_raw_wordcount"),
                row.first_output_s,
            )?;
        }
        Ok(())
    }
}
