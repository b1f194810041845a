//! The job spec: a TOML file naming the sources, operators and sinks of a streaming job, its
//! tenant and its latency target. Parsing and validation; errors name the field and its line.
//! The types and parsing are here, the checks in `validate`.
//!
//! ```toml
//! name = "wordcount"
//! tenant = "demo"
//! latency_target_ms = 100
//!
//! [[source]]
//! name = "lines"
//! kind = "file"
//! path = "wordcount.txt"
//!
//! [[operator]]
//! name = "count"
//! module = "../rust/wordcount"
//! inputs = ["lines"]
//!
//! [[sink]]
//! name = "out"
//! kind = "stdout"
//! inputs = ["count"]
//! ```

use std::collections::HashSet;
use std::ops::Range;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::Spanned;

use super::router::Partitioning;
use super::sink::SinkFormat;
use super::source::generator::GeneratorMode;
use crate::limits::MAX_WINDOWS_PER_EVENT;
use crate::time::join::JoinDef;
use crate::time::window::{WindowDef, WindowKind};

mod validate;

use validate::Checker;

/// Largest generated payload per event.
pub const MAX_PAYLOAD_BYTES: usize = 1 << 20;

/// Largest latency target accepted: one day.
pub const MAX_LATENCY_TARGET_MS: u64 = 24 * 3600 * 1000;

/// Most instances one operator may ask for.
pub const MAX_PARALLELISM: usize = 256;

/// A parsed and validated job.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobSpec {
    /// The job's name.
    pub name: Spanned<String>,
    /// The tenant the job runs for.
    #[serde(default = "default_tenant")]
    pub tenant: String,
    /// End-to-end latency the job asks for, in milliseconds.
    #[serde(default = "default_latency_target")]
    pub latency_target_ms: Spanned<u64>,
    /// Where events come from.
    #[serde(default, rename = "source")]
    pub sources: Vec<SourceSpec>,
    /// The operators.
    #[serde(default, rename = "operator")]
    pub operators: Vec<OperatorSpec>,
    /// Where results go.
    #[serde(default, rename = "sink")]
    pub sinks: Vec<SinkSpec>,
    /// Where failed inputs go (logged when absent).
    #[serde(default)]
    pub dead_letter: Option<DeadLetterSpec>,
    /// Directory relative paths are resolved against (the spec file's directory).
    #[serde(skip)]
    pub base_dir: PathBuf,
}

fn default_tenant() -> String {
    "default".into()
}

fn default_latency_target() -> Spanned<u64> {
    Spanned::new(0..0, 1000)
}

fn default_parallelism() -> Spanned<usize> {
    Spanned::new(0..0, 1)
}

/// How line-oriented sources read their input.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum InputFormat {
    /// Each line is one event value.
    #[default]
    Lines,
    /// Each line is a JSON object; key and event time may be taken from its fields.
    Ndjson,
}

/// Options of line-oriented sources.
#[derive(Debug, Clone, Default)]
pub struct LineOptions {
    /// How lines are read.
    pub format: InputFormat,
    /// JSON field whose value becomes the event key (ndjson only): a top-level name, a dotted
    /// path `a.b`, or a JSON Pointer `/a/b`.
    pub key_field: Option<String>,
    /// JSON field holding the event time in ms (ndjson only; paths as for `key_field`);
    /// ingest time otherwise.
    pub event_time_field: Option<String>,
    /// Bounded out-of-orderness: the watermark trails the largest event time by this much.
    pub watermark_delay_ms: u64,
}

/// What a source reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SourceKind {
    /// A file, line by line.
    File,
    /// Standard input, line by line.
    Stdin,
    /// Synthetic JSON events `{"key","seq","value","payload"}`.
    Generator,
    /// Lines pushed by the embedder (`cameo serve`: NDJSON posted over HTTP) into the job's
    /// inlet, line by line like a file.
    Http,
}

/// One source. Which fields apply depends on `kind`; validation rejects the others.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceSpec {
    /// Source name.
    pub name: Spanned<String>,
    /// What it reads.
    pub kind: Spanned<SourceKind>,
    /// The file to read (`file`), relative to the job spec.
    pub path: Option<Spanned<String>>,
    /// How lines are read (`file`, `stdin`).
    #[serde(default = "default_format")]
    pub format: Spanned<InputFormat>,
    /// See [`LineOptions::key_field`].
    pub key_field: Option<Spanned<String>>,
    /// See [`LineOptions::event_time_field`].
    pub event_time_field: Option<Spanned<String>>,
    /// See [`LineOptions::watermark_delay_ms`].
    #[serde(default)]
    pub watermark_delay_ms: u64,
    /// After this long without input the source declares itself idle, so operators that
    /// combine it with other inputs stop waiting for its watermark.
    pub idle_timeout_ms: Option<Spanned<u64>>,
    /// Events to generate (`generator`).
    pub count: Option<Spanned<u64>>,
    /// Events per second; 0 (the default) means as fast as the job takes them.
    pub rate: Option<Spanned<f64>>,
    /// Distinct keys `k0`, `k1`, ... (`generator`, default 100).
    pub keys: Option<Spanned<u64>>,
    /// Bytes of filler in each event's `payload` field (`generator`).
    pub payload_bytes: Option<Spanned<usize>>,
    /// Seed for the key sequence (`generator`, `hashed` mode).
    pub seed: Option<Spanned<u64>>,
    /// How a generator makes keys, values and event times (`generator`): `hashed` (the
    /// default) or `exact`; see [`GeneratorMode`].
    pub mode: Option<Spanned<GeneratorMode>>,
    /// Events per second of event time (`generator`, `exact` mode, required there): event
    /// `seq` has event time `seq * 1000 / event_rate` ms.
    pub event_rate: Option<Spanned<u64>>,
}

impl SourceSpec {
    /// The source's name.
    pub fn name(&self) -> &Spanned<String> {
        &self.name
    }

    /// The line options of a `file` or `stdin` source.
    pub fn line_options(&self) -> LineOptions {
        LineOptions {
            format: *self.format.get_ref(),
            key_field: self.key_field.as_ref().map(|f| f.get_ref().clone()),
            event_time_field: self.event_time_field.as_ref().map(|f| f.get_ref().clone()),
            watermark_delay_ms: self.watermark_delay_ms,
        }
    }

    /// The generator mode: `hashed` unless the spec says otherwise.
    pub fn generator_mode(&self) -> GeneratorMode {
        self.mode
            .as_ref()
            .map_or_else(GeneratorMode::default, |m| *m.get_ref())
    }
}

fn default_format() -> Spanned<InputFormat> {
    Spanned::new(0..0, InputFormat::Lines)
}

/// One operator.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OperatorSpec {
    /// Operator name.
    pub name: Spanned<String>,
    /// A `.wasm` component, or a Rust operator crate directory that cameo builds on demand;
    /// relative to the job spec.
    pub module: Spanned<String>,
    /// Names of the sources or operators feeding it.
    pub inputs: Vec<Spanned<String>>,
    /// Number of instances.
    #[serde(default = "default_parallelism")]
    pub parallelism: Spanned<usize>,
    /// How events are spread over the instances.
    #[serde(default)]
    pub partition: Partitioning,
    /// Handed to the operator's `init` as a JSON object.
    #[serde(default)]
    pub config: toml::Table,
    /// A host-managed window: events are folded into per-key panes that fire when the
    /// watermark passes their end. The module must export `cameo:operator/windowed`.
    pub window: Option<WindowSpec>,
    /// A keyed interval join of the operator's two inputs (the first is the left side): each
    /// event pairs with the other side's events of the same key within `within_ms`. The module
    /// must export `cameo:operator/joiner`.
    pub join: Option<JoinSpec>,
    /// Fuel one call of this operator may burn, instead of the host's `fuel_per_call`: an
    /// operator in an interpreted language burns 7-16 times the fuel of compiled code for the
    /// same work. The host refuses more than its `max_fuel_per_call`.
    pub fuel_per_call: Option<Spanned<u64>>,
}

/// An interval join declared on an operator.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JoinSpec {
    /// Largest difference of event times, in ms, for two events to pair.
    pub within_ms: Spanned<u64>,
}

impl JoinSpec {
    /// The join definition.
    pub fn to_def(&self) -> JoinDef {
        JoinDef {
            within: (*self.within_ms.get_ref()).min(MAX_WINDOW_MS) as i64,
        }
    }
}

/// A window declared on an operator.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WindowSpec {
    /// tumbling, sliding or session.
    pub kind: Spanned<WindowKind>,
    /// Window length (tumbling, sliding).
    pub size_ms: Option<Spanned<u64>>,
    /// Distance between window starts (sliding).
    pub slide_ms: Option<Spanned<u64>>,
    /// Inactivity gap that closes a session (session).
    pub gap_ms: Option<Spanned<u64>>,
    /// How long after a window's end late events still update it and fire it again; events
    /// later than that go to the operator's `late` output (`"<operator>:late"`).
    #[serde(default)]
    pub allowed_lateness_ms: u64,
}

/// The suffix naming an operator's output of late events in `inputs`.
pub const LATE_SUFFIX: &str = ":late";

/// The operator (or source) an `inputs` entry reads from: `win:late` reads from `win`.
pub fn producer_of(input: &str) -> &str {
    input.strip_suffix(LATE_SUFFIX).unwrap_or(input)
}

/// Largest window length, gap or lateness accepted: one year.
const MAX_WINDOW_MS: u64 = 365 * 24 * 3600 * 1000;

impl WindowSpec {
    /// The window definition, or what is wrong with it (with the span to point at).
    pub fn to_def(&self) -> Result<WindowDef, (Range<usize>, String)> {
        let kind = *self.kind.get_ref();
        let positive = |field: &Option<Spanned<u64>>,
                        name: &str|
         -> Result<i64, (Range<usize>, String)> {
            match field {
                None => Err((
                    self.kind.span(),
                    format!("a {kind:?} window needs `{name}`").to_lowercase(),
                )),
                Some(value) if *value.get_ref() == 0 || *value.get_ref() > MAX_WINDOW_MS => Err((
                    value.span(),
                    format!("`{name}` must be between 1 and {MAX_WINDOW_MS} ms"),
                )),
                Some(value) => Ok(*value.get_ref() as i64),
            }
        };
        let unused = |field: &Option<Spanned<u64>>, name: &str| match field {
            Some(value) => Err((
                value.span(),
                format!("`{name}` does not apply to {kind:?} windows").to_lowercase(),
            )),
            None => Ok(()),
        };
        let allowed_lateness = self.allowed_lateness_ms.min(MAX_WINDOW_MS) as i64;
        match kind {
            WindowKind::Tumbling => {
                let size = positive(&self.size_ms, "size_ms")?;
                unused(&self.slide_ms, "slide_ms")?;
                unused(&self.gap_ms, "gap_ms")?;
                Ok(WindowDef {
                    kind,
                    size,
                    slide: size,
                    gap: 0,
                    allowed_lateness,
                })
            }
            WindowKind::Sliding => {
                let size = positive(&self.size_ms, "size_ms")?;
                let slide = positive(&self.slide_ms, "slide_ms")?;
                unused(&self.gap_ms, "gap_ms")?;
                if slide > size {
                    return Err((
                        self.kind.span(),
                        "`slide_ms` must not be larger than `size_ms`".into(),
                    ));
                }
                let windows = (size + slide - 1) / slide;
                if windows > MAX_WINDOWS_PER_EVENT {
                    return Err((
                        self.kind.span(),
                        format!(
                            "every event would fall in {windows} windows (`size_ms` / \
                             `slide_ms`), over the limit of {MAX_WINDOWS_PER_EVENT}; make \
                             `slide_ms` at least {}",
                            (size + MAX_WINDOWS_PER_EVENT - 1) / MAX_WINDOWS_PER_EVENT
                        ),
                    ));
                }
                Ok(WindowDef {
                    kind,
                    size,
                    slide,
                    gap: 0,
                    allowed_lateness,
                })
            }
            WindowKind::Session => {
                let gap = positive(&self.gap_ms, "gap_ms")?;
                unused(&self.size_ms, "size_ms")?;
                unused(&self.slide_ms, "slide_ms")?;
                Ok(WindowDef {
                    kind,
                    size: 0,
                    slide: 0,
                    gap,
                    allowed_lateness,
                })
            }
        }
    }
}

/// Where a sink writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SinkKind {
    /// Standard output.
    Stdout,
    /// A file (created or truncated).
    File,
    /// Kept in memory and returned to the caller of [`crate::job::run_job`].
    Memory,
    /// Counted and measured (latency, deadlines), then dropped: for benchmarks, where keeping
    /// or writing the output would be part of what is measured.
    Discard,
    /// NDJSON with `seq` kept in the job's data directory, read by the embedder (`cameo serve`
    /// answers `GET /v1/jobs/{id}/sinks/{name}` from it).
    Http,
}

/// One sink.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SinkSpec {
    /// Sink name.
    pub name: Spanned<String>,
    /// Where it writes.
    pub kind: Spanned<SinkKind>,
    /// What feeds it.
    pub inputs: Vec<Spanned<String>>,
    /// The file (`file`), relative to the job spec.
    pub path: Option<Spanned<String>>,
    /// How events are written (`stdout`, `file`).
    #[serde(default)]
    pub format: SinkFormat,
}

impl SinkSpec {
    /// The sink's name.
    pub fn name(&self) -> &Spanned<String> {
        &self.name
    }

    /// What feeds the sink.
    pub fn inputs(&self) -> &[Spanned<String>] {
        &self.inputs
    }
}

/// Where failed inputs are written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeadLetterSpec {
    /// NDJSON file of failed inputs with reasons, relative to the job spec.
    pub path: String,
}

/// A job spec that could not be read or is invalid.
#[derive(Debug, thiserror::Error)]
pub enum SpecError {
    /// The file could not be read.
    #[error("could not read job spec {path}: {source}")]
    Read {
        /// The path.
        path: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The file is not valid TOML, or a field is wrong.
    #[error("{file}:{line}: {message}")]
    Invalid {
        /// The spec's file name.
        file: String,
        /// 1-based line of the offending field (0 when unknown).
        line: usize,
        /// What is wrong and what to do.
        message: String,
    },
}

impl JobSpec {
    /// Reads and validates the spec at `path`.
    pub fn from_file(path: &Path) -> Result<Self, SpecError> {
        let source = std::fs::read_to_string(path).map_err(|source| SpecError::Read {
            path: path.display().to_string(),
            source,
        })?;
        let base_dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
        Self::parse(&source, &path.display().to_string(), base_dir)
    }

    /// Parses and validates `source`; `file` names it in errors, `base_dir` anchors relative
    /// paths.
    pub fn parse(source: &str, file: &str, base_dir: PathBuf) -> Result<Self, SpecError> {
        let checker = Checker::new(source, file);
        let mut spec: JobSpec = toml::from_str(source).map_err(|err| {
            let message = err.message().trim().to_string();
            checker.error(err.span().unwrap_or(0..0), message)
        })?;
        spec.base_dir = base_dir;
        spec.validate(&checker)?;
        Ok(spec)
    }

    /// Operators in an order where every operator comes after its inputs.
    pub fn operators_in_order(&self) -> Vec<&OperatorSpec> {
        let mut placed: HashSet<&str> = self
            .sources
            .iter()
            .map(|s| s.name().get_ref().as_str())
            .collect();
        let mut order = Vec::new();
        let mut left: Vec<&OperatorSpec> = self.operators.iter().collect();
        while !left.is_empty() {
            let before = left.len();
            left.retain(|op| {
                if op
                    .inputs
                    .iter()
                    .all(|i| placed.contains(producer_of(i.get_ref())))
                {
                    placed.insert(op.name.get_ref());
                    order.push(*op);
                    false
                } else {
                    true
                }
            });
            if left.len() == before {
                break; // a cycle; validation rejects it before this is called
            }
        }
        order
    }

    /// `path` resolved against the spec's directory.
    pub fn resolve(&self, path: &str) -> PathBuf {
        let path = Path::new(path);
        if path.is_absolute() {
            path.to_path_buf()
        } else {
            self.base_dir.join(path)
        }
    }
}

#[cfg(test)]
mod tests;
