//! The job spec: a TOML file naming the sources, operators and sinks of a streaming job, its
//! tenant and its latency target. Parsing and validation; errors name the field and its line.
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

use std::collections::{HashMap, HashSet};
use std::ops::Range;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::Spanned;

use super::router::Partitioning;
use super::sink::SinkFormat;

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

/// Options shared by line-oriented sources.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LineOptions {
    /// How lines are read.
    #[serde(default)]
    pub format: InputFormat,
    /// Top-level JSON field whose value becomes the event key (ndjson only).
    pub key_field: Option<String>,
    /// Top-level JSON field holding the event time in ms (ndjson only); ingest time otherwise.
    pub event_time_field: Option<String>,
    /// Bounded out-of-orderness: the watermark trails the largest event time by this much.
    #[serde(default)]
    pub watermark_delay_ms: u64,
}

/// One source.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
pub enum SourceSpec {
    /// Reads a file, line by line.
    File {
        /// Source name.
        name: Spanned<String>,
        /// The file, relative to the job spec.
        path: Spanned<String>,
        /// How lines are read.
        #[serde(default)]
        format: InputFormat,
        /// See [`LineOptions::key_field`].
        key_field: Option<String>,
        /// See [`LineOptions::event_time_field`].
        event_time_field: Option<String>,
        /// See [`LineOptions::watermark_delay_ms`].
        #[serde(default)]
        watermark_delay_ms: u64,
    },
    /// Reads standard input, line by line.
    Stdin {
        /// Source name.
        name: Spanned<String>,
        /// How lines are read.
        #[serde(default)]
        format: InputFormat,
        /// See [`LineOptions::key_field`].
        key_field: Option<String>,
        /// See [`LineOptions::event_time_field`].
        event_time_field: Option<String>,
        /// See [`LineOptions::watermark_delay_ms`].
        #[serde(default)]
        watermark_delay_ms: u64,
    },
    /// Generates synthetic JSON events `{"key","seq","value","payload"}`.
    Generator {
        /// Source name.
        name: Spanned<String>,
        /// Events to generate.
        count: u64,
        /// Events per second; 0 means as fast as the job takes them.
        #[serde(default)]
        rate: f64,
        /// Distinct keys (`k0`, `k1`, ...).
        #[serde(default = "default_keys")]
        keys: u64,
        /// Bytes of filler in each event's `payload` field.
        #[serde(default)]
        payload_bytes: usize,
        /// Seed for the key sequence.
        #[serde(default)]
        seed: u64,
    },
}

fn default_keys() -> u64 {
    100
}

impl SourceSpec {
    /// The source's name.
    pub fn name(&self) -> &Spanned<String> {
        match self {
            SourceSpec::File { name, .. }
            | SourceSpec::Stdin { name, .. }
            | SourceSpec::Generator { name, .. } => name,
        }
    }
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
}

/// One sink.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
pub enum SinkSpec {
    /// Writes to standard output.
    Stdout {
        /// Sink name.
        name: Spanned<String>,
        /// What feeds it.
        inputs: Vec<Spanned<String>>,
        /// How events are written.
        #[serde(default)]
        format: SinkFormat,
    },
    /// Writes to a file (created or truncated).
    File {
        /// Sink name.
        name: Spanned<String>,
        /// What feeds it.
        inputs: Vec<Spanned<String>>,
        /// The file, relative to the job spec.
        path: Spanned<String>,
        /// How events are written.
        #[serde(default)]
        format: SinkFormat,
    },
    /// Keeps events in memory, returned to the caller of [`crate::job::run_job`].
    Memory {
        /// Sink name.
        name: Spanned<String>,
        /// What feeds it.
        inputs: Vec<Spanned<String>>,
    },
}

impl SinkSpec {
    /// The sink's name.
    pub fn name(&self) -> &Spanned<String> {
        match self {
            SinkSpec::Stdout { name, .. }
            | SinkSpec::File { name, .. }
            | SinkSpec::Memory { name, .. } => name,
        }
    }

    /// What feeds the sink.
    pub fn inputs(&self) -> &[Spanned<String>] {
        match self {
            SinkSpec::Stdout { inputs, .. }
            | SinkSpec::File { inputs, .. }
            | SinkSpec::Memory { inputs, .. } => inputs,
        }
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

/// 1-based line number of byte `offset` in `source`.
fn line_of(source: &str, offset: usize) -> usize {
    source
        .get(..offset.min(source.len()))
        .map_or(0, |before| before.matches('\n').count() + 1)
}

struct Checker<'a> {
    source: &'a str,
    file: &'a str,
}

impl Checker<'_> {
    fn error(&self, span: Range<usize>, message: impl Into<String>) -> SpecError {
        let line = if span == (0..0) {
            0
        } else {
            line_of(self.source, span.start)
        };
        SpecError::Invalid {
            file: self.file.into(),
            line,
            message: message.into(),
        }
    }
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
        let checker = Checker { source, file };
        let mut spec: JobSpec = toml::from_str(source).map_err(|err| {
            let message = err.message().trim().to_string();
            checker.error(err.span().unwrap_or(0..0), message)
        })?;
        spec.base_dir = base_dir;
        spec.validate(&checker)?;
        Ok(spec)
    }

    fn validate(&self, checker: &Checker<'_>) -> Result<(), SpecError> {
        if self.name.get_ref().trim().is_empty() {
            return Err(checker.error(self.name.span(), "`name` is empty; give the job a name"));
        }
        if *self.latency_target_ms.get_ref() == 0 {
            return Err(checker.error(
                self.latency_target_ms.span(),
                "`latency_target_ms` must be at least 1",
            ));
        }
        if self.sources.is_empty() {
            return Err(checker.error(
                0..0,
                "the job has no [[source]]; add one (kind = \"file\", \"stdin\" or \"generator\")",
            ));
        }
        if self.sinks.is_empty() {
            return Err(checker.error(
                0..0,
                "the job has no [[sink]]; add one (kind = \"stdout\", \"file\" or \"memory\")",
            ));
        }
        // Names are unique across sources, operators and sinks.
        let mut seen: HashMap<&str, &'static str> = HashMap::new();
        let names = self
            .sources
            .iter()
            .map(|s| (s.name(), "source"))
            .chain(self.operators.iter().map(|o| (&o.name, "operator")))
            .chain(self.sinks.iter().map(|s| (s.name(), "sink")));
        for (name, what) in names {
            if name.get_ref().trim().is_empty() {
                return Err(checker.error(name.span(), format!("a {what} has an empty `name`")));
            }
            if let Some(other) = seen.insert(name.get_ref(), what) {
                return Err(checker.error(
                    name.span(),
                    format!("`name` \"{}\" is used twice (a {other} and a {what}); names must be unique", name.get_ref()),
                ));
            }
        }
        let producers: HashSet<&str> = self
            .sources
            .iter()
            .map(|s| s.name().get_ref().as_str())
            .chain(self.operators.iter().map(|o| o.name.get_ref().as_str()))
            .collect();
        let known = {
            let mut known: Vec<&str> = producers.iter().copied().collect();
            known.sort_unstable();
            known.join(", ")
        };
        let check_inputs = |owner: &str, inputs: &[Spanned<String>], whole: Range<usize>| {
            if inputs.is_empty() {
                return Err(checker.error(
                    whole,
                    format!(
                        "`inputs` of \"{owner}\" is empty; name at least one source or operator"
                    ),
                ));
            }
            for input in inputs {
                if !producers.contains(input.get_ref().as_str()) {
                    return Err(checker.error(
                        input.span(),
                        format!(
                            "`inputs` of \"{owner}\" names \"{}\", which is no source or operator of this job (known: {known})",
                            input.get_ref()
                        ),
                    ));
                }
                if input.get_ref() == owner {
                    return Err(checker.error(
                        input.span(),
                        format!("\"{owner}\" lists itself in `inputs`"),
                    ));
                }
            }
            Ok(())
        };
        for operator in &self.operators {
            check_inputs(
                operator.name.get_ref(),
                &operator.inputs,
                operator.name.span(),
            )?;
            let parallelism = *operator.parallelism.get_ref();
            if parallelism == 0 || parallelism > MAX_PARALLELISM {
                return Err(checker.error(
                    operator.parallelism.span(),
                    format!("`parallelism` of \"{}\" is {parallelism}; it must be between 1 and {MAX_PARALLELISM}", operator.name.get_ref()),
                ));
            }
            if operator.module.get_ref().trim().is_empty() {
                return Err(checker.error(operator.module.span(), format!("`module` of \"{}\" is empty; give the path of a .wasm component or an operator crate", operator.name.get_ref())));
            }
        }
        for sink in &self.sinks {
            check_inputs(sink.name().get_ref(), sink.inputs(), sink.name().span())?;
        }
        if let Some(cycle) = self.find_cycle() {
            return Err(checker.error(
                cycle.span(),
                format!("operator \"{}\" feeds back into itself through its `inputs`; a job must be a graph without cycles", cycle.get_ref()),
            ));
        }
        Ok(())
    }

    /// An operator on a cycle, if there is one.
    fn find_cycle(&self) -> Option<&Spanned<String>> {
        let index: HashMap<&str, usize> = self
            .operators
            .iter()
            .enumerate()
            .map(|(i, o)| (o.name.get_ref().as_str(), i))
            .collect();
        // 0 = unvisited, 1 = on the stack, 2 = done.
        let mut mark = vec![0u8; self.operators.len()];
        fn visit(
            spec: &JobSpec,
            index: &HashMap<&str, usize>,
            mark: &mut [u8],
            at: usize,
        ) -> Option<usize> {
            mark[at] = 1;
            for input in &spec.operators[at].inputs {
                if let Some(&next) = index.get(input.get_ref().as_str()) {
                    if mark[next] == 1 {
                        return Some(next);
                    }
                    if mark[next] == 0
                        && let Some(found) = visit(spec, index, mark, next)
                    {
                        return Some(found);
                    }
                }
            }
            mark[at] = 2;
            None
        }
        (0..self.operators.len()).find_map(|start| {
            if mark[start] == 0 {
                visit(self, &index, &mut mark, start).map(|i| &self.operators[i].name)
            } else {
                None
            }
        })
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
                    .all(|i| placed.contains(i.get_ref().as_str()))
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
mod tests {
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
    fn zero_parallelism_is_rejected() {
        let err =
            parse(&MINIMAL.replace("inputs = [\"in\"]", "inputs = [\"in\"]\nparallelism = 0"))
                .unwrap_err()
                .to_string();
        assert!(err.contains("`parallelism` of \"op\" is 0"), "{err}");
    }
}
