//! `cameo operator test`: runs an operator project on sample events, in the same host, limits
//! and scheduling as `cameo run`, prints what it emitted and what failed, and with `--expect`
//! compares that with a golden file.
//!
//! The printed form is one line per result, outputs first, then dead letters:
//!
//! ```text
//! KEY VALUE [@EVENT_TIME]        an output (`-` for no key; the time with --time-field)
//! dead: REASON: VALUE            an input whose call failed
//! ```
//!
//! so the output of a run that looks right can be saved as the `--expect` file of the next.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use anyhow::{Context as _, bail};
use cameo_host::{Event, Host, JobPlan, JobSpec, LogLine, LogSink, ModuleSource};

use super::compiled_cache::CacheArgs;
use super::run::HostArgs;
use super::window_flag::WindowFlag;

/// Flags of `cameo operator test`.
#[derive(Debug, clap::Args)]
pub struct TestArgs {
    /// The operator project's directory (built first), or a component file.
    #[arg(default_value = ".")]
    dir: PathBuf,
    /// The sample events: one value per line, or NDJSON objects when the file ends in
    /// `.ndjson` or `.jsonl` or a --key-field or --time-field is given.
    #[arg(long)]
    input: PathBuf,
    /// What the run must print (outputs, then `dead: ` lines, as this command prints them):
    /// a difference is shown line by line and the command fails.
    #[arg(long)]
    expect: Option<PathBuf>,
    /// The operator's config as a JSON object, e.g. '{"field": "status", "equals": "paid"}'.
    #[arg(long, default_value = "{}")]
    config: String,
    /// Host-managed windows: tumbling:SIZE_MS, sliding:SIZE_MS:SLIDE_MS or session:GAP_MS
    /// (the operator must export the windowed interface).
    #[arg(long)]
    window: Option<WindowFlag>,
    /// How late an event may be and still update its window, in milliseconds.
    #[arg(long, default_value_t = 0, requires = "window")]
    allowed_lateness_ms: u64,
    /// The NDJSON field holding each event's key.
    #[arg(long)]
    key_field: Option<String>,
    /// The NDJSON field holding each event's time (milliseconds).
    #[arg(long)]
    time_field: Option<String>,
    /// Print one JSON object: outputs, dead letters, the job summary and, with --expect,
    /// whether they matched.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    cache: CacheArgs,
    #[command(flatten)]
    host: HostArgs,
}

/// What a test run produced.
#[derive(Debug, serde::Serialize)]
struct Results {
    outputs: Vec<Output>,
    dead_letters: Vec<DeadLetter>,
    /// What the operator logged or printed, in order.
    log: Vec<Logged>,
}

/// One line the operator logged or printed.
#[derive(Debug, Clone, serde::Serialize)]
struct Logged {
    instance: String,
    /// `log`, `stdout`, `stderr`, or `host` for the host's notices about the log.
    stream: &'static str,
    level: &'static str,
    text: String,
}

/// Keeps every line operators log, for the JSON results.
#[derive(Default)]
struct Collected(Mutex<Vec<Logged>>);

impl LogSink for Collected {
    fn line(&self, line: LogLine<'_>) {
        if let Ok(mut lines) = self.0.lock() {
            lines.push(Logged {
                instance: line.label.to_string(),
                stream: line.stream,
                level: line.level,
                text: line.text.to_string(),
            });
        }
    }
}

/// One output event.
#[derive(Debug, serde::Serialize)]
struct Output {
    key: Option<String>,
    value: String,
    event_time: i64,
}

/// One input whose call failed.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct DeadLetter {
    reason: String,
    value: Option<String>,
}

impl Results {
    /// The printed form: one line per output, then one per dead letter. Event times are
    /// shown with `times` only: without a time field they are the time of reading.
    fn lines(&self, times: bool) -> Vec<String> {
        let outputs = self.outputs.iter().map(|out| {
            let mut line = format!("{} {}", out.key.as_deref().unwrap_or("-"), out.value);
            if times {
                line.push_str(&format!(" @{}", out.event_time));
            }
            line
        });
        let dead = self.dead_letters.iter().map(|dead| {
            format!(
                "dead: {}: {}",
                dead.reason,
                dead.value.as_deref().unwrap_or("(a timer)")
            )
        });
        outputs.chain(dead).collect()
    }
}

/// Runs `cameo operator test`.
pub fn run(args: TestArgs) -> anyhow::Result<()> {
    let expected =
        match &args.expect {
            Some(path) => Some(std::fs::read_to_string(path).with_context(|| {
                format!("could not read the expected results {}", path.display())
            })?),
            None => None,
        };
    let component = if args.dir.is_file() {
        args.dir.clone()
    } else {
        super::operator::build(&args.dir)
            .with_context(|| format!("could not build the operator in {}", args.dir.display()))?
    };
    let scratch = tempfile::tempdir().context("could not create a temporary directory")?;
    let spec = test_spec(&args, &component, scratch.path())?;
    let mut options = args.host.options(None)?;
    options.compiled_cache = args.cache.dir();
    let plan = JobPlan::with_modules(&spec, |_| Ok(ModuleSource::Component(component.clone())))?;
    // As `cameo run` runs it, with the operator's log lines kept for the results too (they
    // are printed to stderr as they come either way).
    let mut host = Host::new(options)?;
    let logged = Arc::new(Collected::default());
    host.engine().set_log_sink(logged.clone());
    let job = host.submit_plan(&plan)?;
    host.start()?;
    let outcome = job.wait();
    host.shutdown();
    let outcome = outcome?;
    let results = Results {
        outputs: outcome
            .outputs
            .get(SINK)
            .map(|events| events.iter().map(output).collect())
            .unwrap_or_default(),
        dead_letters: read_dead_letters(&scratch.path().join(DEAD_LETTERS))?,
        log: logged
            .0
            .lock()
            .map(|lines| lines.clone())
            .unwrap_or_default(),
    };
    let lines = results.lines(args.time_field.is_some());
    let difference = expected.as_deref().and_then(|text| {
        let expected: Vec<&str> = text.lines().collect();
        let got: Vec<&str> = lines.iter().map(String::as_str).collect();
        super::line_diff::diff(&expected, &got)
    });
    if args.json {
        let mut value = serde_json::to_value(&results)?;
        value["summary"] = serde_json::to_value(&outcome.summary)?;
        if expected.is_some() {
            value["matches"] = serde_json::Value::Bool(difference.is_none());
        }
        println!("{value}");
    } else {
        for line in &lines {
            println!("{line}");
        }
    }
    match (difference, &args.expect) {
        (Some(diff), Some(path)) => bail!(
            "the results differ from {} (- expected, + got):\n{diff}",
            path.display()
        ),
        _ => Ok(()),
    }
}

/// The name of the sink that keeps the outputs.
const SINK: &str = "out";
/// The dead-letter file, in the scratch directory.
const DEAD_LETTERS: &str = "dead.ndjson";

/// The job that feeds `args.input` through the component: one file source, the operator
/// (with its config and window), a sink kept in memory, dead letters in `scratch`.
fn test_spec(args: &TestArgs, component: &Path, scratch: &Path) -> anyhow::Result<JobSpec> {
    let input = args
        .input
        .canonicalize()
        .with_context(|| format!("could not read the input {}", args.input.display()))?;
    let config = config_table(&args.config)?;
    let ndjson = args.key_field.is_some()
        || args.time_field.is_some()
        || input
            .extension()
            .is_some_and(|ext| ext == "ndjson" || ext == "jsonl");
    let mut source = format!(
        "[[source]]\nname = \"in\"\nkind = \"file\"\npath = {}\n",
        quoted(&input.display().to_string())
    );
    if ndjson {
        source.push_str("format = \"ndjson\"\n");
    }
    if let Some(field) = &args.key_field {
        source.push_str(&format!("key_field = {}\n", quoted(field)));
    }
    if let Some(field) = &args.time_field {
        source.push_str(&format!("event_time_field = {}\n", quoted(field)));
    }
    let window = args.window.as_ref().map_or(String::new(), |window| {
        format!("window = {}\n", window.spec_table(args.allowed_lateness_ms))
    });
    let text = format!(
        "name = \"operator-test\"\ndead_letter = {{ path = \"{DEAD_LETTERS}\" }}\n{source}\
         [[operator]]\nname = \"op\"\nmodule = {module}\ninputs = [\"in\"]\n{window}\
         [[sink]]\nname = \"{SINK}\"\nkind = \"memory\"\ninputs = [\"op\"]\n",
        module = quoted(&component.display().to_string()),
    );
    let mut spec = JobSpec::parse(&text, "operator test", scratch.to_path_buf())?;
    if let Some(operator) = spec.operators.first_mut() {
        operator.config = config;
    }
    Ok(spec)
}

/// `text` as a TOML string.
fn quoted(text: &str) -> String {
    toml::Value::String(text.to_string()).to_string()
}

/// The `--config` JSON object as the TOML table a job spec holds.
fn config_table(json: &str) -> anyhow::Result<toml::Table> {
    let value: serde_json::Value = serde_json::from_str(json)
        .with_context(|| format!("--config is not valid JSON: {json}"))?;
    if !value.is_object() {
        bail!("--config must be a JSON object, e.g. '{{\"field\": \"status\"}}', got {value}");
    }
    toml::Table::try_from(&value).map_err(|err| {
        anyhow::anyhow!(
            "--config cannot be given to an operator ({err}): a job spec is TOML, which has no \
             null; leave such fields out"
        )
    })
}

/// An output as printed.
fn output(event: &Event) -> Output {
    Output {
        key: event
            .key
            .as_ref()
            .map(|key| String::from_utf8_lossy(key).into_owned()),
        value: String::from_utf8_lossy(&event.value).into_owned(),
        event_time: event.event_time,
    }
}

/// The dead letters the job wrote (none when it wrote no file).
fn read_dead_letters(path: &Path) -> anyhow::Result<Vec<DeadLetter>> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(err) => return Err(err).context("could not read the dead letters"),
    };
    text.lines()
        .map(|line| {
            serde_json::from_str(line)
                .with_context(|| format!("a dead letter is not what the host writes: {line}"))
        })
        .collect()
}
