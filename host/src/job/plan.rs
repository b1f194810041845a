//! The job plan: a [`JobSpec`] (what the user wrote, with the line of every field) lowered
//! once into what the wiring needs: modules chosen, paths resolved, defaults applied, window
//! and join definitions made, operators in dataflow order, every input's channels numbered,
//! every instance labelled. The wiring (`job::build`) reads only the plan, never the spec.
//!
//! A plan's modules come from a resolver: [`JobPlan::from_spec`] resolves `module` as a path
//! next to the spec (a `.wasm` component or a Rust operator crate); an embedder or a server
//! with a module registry passes its own to [`JobPlan::with_modules`] and hands over loaded
//! modules.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use crate::dataflow::router::Partitioning;
use crate::dataflow::sink::SinkFormat;
use crate::dataflow::source::generator::GeneratorSpec;
use crate::dataflow::spec::{
    JobSpec, LineOptions, OperatorSpec, SinkKind, SourceKind, SourceSpec, producer_of,
};
use crate::registry::OperatorModule;
use crate::time::join::JoinDef;
use crate::time::window::WindowDef;

/// Where an operator's module comes from.
#[derive(Debug, Clone)]
pub enum ModuleSource {
    /// A component file, loaded when the job is submitted.
    Component(PathBuf),
    /// A Rust operator crate, built into a component when the job is submitted.
    RustCrate(PathBuf),
    /// A module already loaded (from a registry, or shared between jobs).
    Loaded(OperatorModule),
}

/// Why a spec could not be lowered into a plan.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    /// The resolver could not find an operator's module.
    #[error("operator \"{operator}\": module \"{module}\": {reason}")]
    Module {
        /// The operator.
        operator: String,
        /// The module as the spec names it.
        module: String,
        /// What the resolver said.
        reason: String,
    },
}

/// A job, validated and resolved, ready to wire onto a [`crate::Host`].
#[derive(Debug, Clone)]
pub struct JobPlan {
    pub(crate) name: String,
    pub(crate) tenant: String,
    pub(crate) latency_target: Duration,
    pub(crate) sources: Vec<SourcePlan>,
    /// Every operator after the operators and sources it reads from.
    pub(crate) operators: Vec<OperatorPlan>,
    pub(crate) sinks: Vec<SinkPlan>,
    /// The dead-letter file, if the spec names one.
    pub(crate) dead_letter: Option<PathBuf>,
    /// Keep the dead letters as an http sink's output is kept (segments bounded to a tail),
    /// for an embedder that serves them.
    pub(crate) dead_letter_kept: bool,
}

/// One input of an operator or sink: a producer and the channels its instances arrive on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct InputPlan {
    /// The producer's output as `inputs` names it: a source, an operator, or an operator's
    /// late output (`window:late`).
    pub producer: String,
    /// The channel of the producer's first instance; instance `i` arrives on
    /// `first_channel + i`.
    pub first_channel: usize,
}

/// How a source reads.
#[derive(Debug, Clone)]
pub(crate) enum SourceInput {
    /// A file, line by line.
    File {
        /// The file, resolved.
        path: PathBuf,
        /// How lines become events.
        options: LineOptions,
    },
    /// Standard input, line by line.
    Stdin {
        /// How lines become events.
        options: LineOptions,
    },
    /// Generated events.
    Generator(GeneratorSpec),
    /// Lines pushed by the embedder into the job's inlet.
    Http {
        /// How lines become events.
        options: LineOptions,
    },
}

/// One source.
#[derive(Debug, Clone)]
pub(crate) struct SourcePlan {
    pub name: String,
    pub input: SourceInput,
    /// Events per second; 0 for as fast as the job takes them.
    pub rate: f64,
    pub idle_timeout: Option<Duration>,
    pub watermark_delay_ms: i64,
    /// Where it starts on this start of the job, when it replays its input.
    pub replay: super::replay::Replay,
}

/// One operator.
#[derive(Debug, Clone)]
pub(crate) struct OperatorPlan {
    pub name: String,
    /// `job/operator`: the operator in metrics and logs.
    pub label: String,
    pub module: ModuleSource,
    pub inputs: Vec<InputPlan>,
    /// Channels of each instance's mailbox: one per upstream instance.
    pub channels: usize,
    /// Channels below this come from the first input (the left side of a join).
    pub left_channels: usize,
    pub parallelism: usize,
    pub partition: Partitioning,
    /// The config `init` receives, as a JSON object.
    pub config: Arc<str>,
    pub window: Option<WindowDef>,
    pub join: Option<JoinDef>,
    /// Fuel one call may burn, when the spec asks for its own.
    pub fuel_per_call: Option<u64>,
    /// Indices (into the plan's operators) of the operators this one feeds.
    pub successors: Vec<usize>,
    /// Other modules the operator may have run when its last checkpoint was taken (it was
    /// upgraded or rolled back): a job resumed from a checkpoint that names one runs it.
    pub versions: Vec<OperatorModule>,
}

/// Where a sink writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SinkTarget {
    Stdout,
    File(PathBuf),
    Memory,
    Discard,
    /// NDJSON in the job's data directory, for the embedder to read.
    Http,
}

/// One sink.
#[derive(Debug, Clone)]
pub(crate) struct SinkPlan {
    pub name: String,
    pub target: SinkTarget,
    pub format: SinkFormat,
    pub inputs: Vec<InputPlan>,
    pub channels: usize,
}

impl OperatorPlan {
    /// The label of instance `instance`: `job/operator`, with `#instance` when there are
    /// several.
    pub fn instance_label(&self, instance: usize) -> String {
        if self.parallelism == 1 {
            self.label.clone()
        } else {
            format!("{}#{instance}", self.label)
        }
    }

    /// The name of this operator's output of late events.
    pub fn late_output(&self) -> Option<String> {
        self.window
            .map(|_| format!("{}{}", self.name, crate::dataflow::spec::LATE_SUFFIX))
    }
}

impl JobPlan {
    /// Lowers `spec`, resolving each operator's `module` as a path relative to the spec: a
    /// directory is a Rust operator crate, anything else a component file.
    pub fn from_spec(spec: &JobSpec) -> Result<Self, PlanError> {
        Self::with_modules(spec, |module| Ok(module_at(&spec.resolve(module))))
    }

    /// Lowers `spec`, asking `resolve` for the module of each operator's `module` field
    /// (e.g. `name@2` from a registry); its error text is reported with the operator.
    pub fn with_modules(
        spec: &JobSpec,
        mut resolve: impl FnMut(&str) -> Result<ModuleSource, String>,
    ) -> Result<Self, PlanError> {
        let sources: Vec<SourcePlan> = spec
            .sources
            .iter()
            .map(|source| source_plan(spec, source))
            .collect();
        let mut instances: Vec<(String, usize)> =
            sources.iter().map(|s| (s.name.clone(), 1)).collect();
        let ordered = spec.operators_in_order();
        let mut operators = Vec::with_capacity(ordered.len());
        for operator in &ordered {
            let module_name = operator.module.get_ref();
            let module = resolve(module_name).map_err(|reason| PlanError::Module {
                operator: operator.name.get_ref().clone(),
                module: module_name.clone(),
                reason,
            })?;
            let plan = operator_plan(spec, operator, module, &instances);
            instances.push((plan.name.clone(), plan.parallelism));
            if let Some(late) = plan.late_output() {
                instances.push((late, plan.parallelism));
            }
            operators.push(plan);
        }
        let successors: Vec<Vec<usize>> = operators
            .iter()
            .map(|producer| {
                operators
                    .iter()
                    .enumerate()
                    .filter(|(_, consumer)| {
                        consumer
                            .inputs
                            .iter()
                            .any(|input| producer_of(&input.producer) == producer.name)
                    })
                    .map(|(index, _)| index)
                    .collect()
            })
            .collect();
        for (operator, successors) in operators.iter_mut().zip(successors) {
            operator.successors = successors;
        }
        let sinks = spec
            .sinks
            .iter()
            .map(|sink| {
                let (inputs, channels) = number_inputs(sink.inputs(), &instances);
                SinkPlan {
                    name: sink.name().get_ref().clone(),
                    target: match sink.kind.get_ref() {
                        SinkKind::Stdout => SinkTarget::Stdout,
                        SinkKind::File => SinkTarget::File(
                            spec.resolve(sink.path.as_ref().map_or("", |p| p.get_ref())),
                        ),
                        SinkKind::Memory => SinkTarget::Memory,
                        SinkKind::Discard => SinkTarget::Discard,
                        SinkKind::Http => SinkTarget::Http,
                    },
                    format: match sink.kind.get_ref() {
                        SinkKind::Http => SinkFormat::Ndjson,
                        _ => sink.format,
                    },
                    inputs,
                    channels,
                }
            })
            .collect();
        Ok(JobPlan {
            name: spec.name.get_ref().clone(),
            tenant: spec.tenant.clone(),
            latency_target: Duration::from_millis(*spec.latency_target_ms.get_ref()),
            sources,
            operators,
            sinks,
            dead_letter: spec.dead_letter.as_ref().map(|dl| spec.resolve(&dl.path)),
            dead_letter_kept: false,
        })
    }

    /// The job's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The tenant the job runs for.
    pub fn tenant(&self) -> &str {
        &self.tenant
    }

    /// The end-to-end latency the job asks for.
    pub fn latency_target(&self) -> Duration {
        self.latency_target
    }

    /// Replaces the module of operator `operator` (e.g. with one loaded from a registry);
    /// false when the job has no such operator.
    pub fn set_module(&mut self, operator: &str, module: ModuleSource) -> bool {
        match self.operators.iter_mut().find(|o| o.name == operator) {
            Some(plan) => {
                plan.module = module;
                true
            }
            None => false,
        }
    }

    /// Sends the job's dead letters to NDJSON at `path` (an embedder keeping them for its
    /// users, e.g. a server), whatever the spec said, kept as an http sink's output is: in
    /// segments bounded to a tail of the newest (see [`crate::Outlet`]), cut back to the
    /// checkpoint on resume.
    pub fn set_dead_letter(&mut self, path: PathBuf) {
        self.dead_letter = Some(path);
        self.dead_letter_kept = true;
    }

    /// Offers `modules` (loaded with the host's engine) as the other versions operator
    /// `operator` may have run when the checkpoint the job resumes from was taken, because it
    /// was upgraded or rolled back while it ran: the job resumes on the module that checkpoint
    /// names, found among these by [`OperatorModule::name`], so a crash during an upgrade
    /// comes back on one version. False when the job has no such operator.
    pub fn offer_versions(&mut self, operator: &str, modules: Vec<OperatorModule>) -> bool {
        match self.operators.iter_mut().find(|o| o.name == operator) {
            Some(plan) => {
                plan.versions = modules;
                true
            }
            None => false,
        }
    }

    /// The windows of the job's operators.
    pub(crate) fn windows(&self) -> Vec<WindowDef> {
        self.operators.iter().filter_map(|o| o.window).collect()
    }

    /// The largest watermark delay of the job's sources.
    pub(crate) fn watermark_delay_ms(&self) -> i64 {
        self.sources
            .iter()
            .map(|s| s.watermark_delay_ms)
            .max()
            .unwrap_or(0)
    }

    /// The label of every operator instance, downstream operators first (the order their
    /// actors are created in).
    pub(crate) fn actor_labels(&self) -> Vec<String> {
        self.operators
            .iter()
            .rev()
            .flat_map(|operator| {
                (0..operator.parallelism)
                    .rev()
                    .map(|instance| operator.instance_label(instance))
            })
            .collect()
    }
}

/// A module path: a directory is a Rust operator crate, anything else a component.
fn module_at(path: &Path) -> ModuleSource {
    if path.is_dir() {
        ModuleSource::RustCrate(path.to_path_buf())
    } else {
        ModuleSource::Component(path.to_path_buf())
    }
}

/// Numbers the channels of `inputs`: one per instance of each producer, in `inputs` order;
/// returns the inputs and the number of channels.
fn number_inputs(
    inputs: &[toml::Spanned<String>],
    instances: &[(String, usize)],
) -> (Vec<InputPlan>, usize) {
    let mut next = 0;
    let planned = inputs
        .iter()
        .map(|input| {
            let producer = input.get_ref().clone();
            let count = instances
                .iter()
                .find(|(name, _)| *name == producer)
                .map_or(1, |(_, count)| *count);
            let first_channel = next;
            next += count;
            InputPlan {
                producer,
                first_channel,
            }
        })
        .collect();
    (planned, next)
}

fn source_plan(spec: &JobSpec, source: &SourceSpec) -> SourcePlan {
    let input = match source.kind.get_ref() {
        SourceKind::File => SourceInput::File {
            path: spec.resolve(source.path.as_ref().map_or("", |p| p.get_ref())),
            options: source.line_options(),
        },
        SourceKind::Stdin => SourceInput::Stdin {
            options: source.line_options(),
        },
        SourceKind::Http => SourceInput::Http {
            options: source.line_options(),
        },
        SourceKind::Generator => SourceInput::Generator(GeneratorSpec {
            count: source.count.as_ref().map_or(0, |c| *c.get_ref()),
            keys: source.keys.as_ref().map_or(100, |k| *k.get_ref()),
            payload_bytes: source.payload_bytes.as_ref().map_or(0, |p| *p.get_ref()),
            seed: source.seed.as_ref().map_or(0, |s| *s.get_ref()),
            mode: source.generator_mode(),
            event_rate: source.event_rate.as_ref().map_or(1, |r| *r.get_ref()),
        }),
    };
    SourcePlan {
        name: source.name().get_ref().clone(),
        input,
        rate: source.rate.as_ref().map_or(0.0, |r| *r.get_ref()),
        idle_timeout: source
            .idle_timeout_ms
            .as_ref()
            .map(|ms| Duration::from_millis(*ms.get_ref())),
        watermark_delay_ms: i64::try_from(source.watermark_delay_ms).unwrap_or(i64::MAX),
        replay: super::replay::Replay::default(),
    }
}

fn operator_plan(
    spec: &JobSpec,
    operator: &OperatorSpec,
    module: ModuleSource,
    instances: &[(String, usize)],
) -> OperatorPlan {
    let name = operator.name.get_ref().clone();
    let (inputs, channels) = number_inputs(&operator.inputs, instances);
    let left_channels = inputs.get(1).map_or(channels, |right| right.first_channel);
    OperatorPlan {
        label: format!("{}/{name}", spec.name.get_ref()),
        name,
        module,
        inputs,
        channels,
        left_channels,
        parallelism: *operator.parallelism.get_ref(),
        partition: operator.partition,
        config: config_json(&operator.config).into(),
        // Validation checked the window: a definition that does not follow is a bug there.
        window: operator.window.as_ref().and_then(|w| w.to_def().ok()),
        join: operator.join.as_ref().map(|j| j.to_def()),
        fuel_per_call: operator.fuel_per_call.as_ref().map(|fuel| *fuel.get_ref()),
        successors: Vec::new(),
        versions: Vec::new(),
    }
}

/// The operator's `config` table as the JSON object `init` receives.
fn config_json(config: &toml::Table) -> String {
    serde_json::to_value(config)
        .unwrap_or(serde_json::Value::Object(Default::default()))
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(toml: &str) -> JobPlan {
        let spec = JobSpec::parse(toml, "job.toml", PathBuf::from("/jobs")).unwrap();
        JobPlan::from_spec(&spec).unwrap()
    }

    #[test]
    fn channels_are_numbered_per_producer_instance_in_inputs_order() {
        let plan = plan(
            r#"
            name = "j"
            [[source]]
            name = "a"
            kind = "stdin"
            [[operator]]
            name = "w"
            module = "w.wasm"
            inputs = ["a"]
            parallelism = 3
            window = { kind = "tumbling", size_ms = 10 }
            [[operator]]
            name = "join"
            module = "j.wasm"
            inputs = ["w", "a"]
            join = { within_ms = 5 }
            [[sink]]
            name = "out"
            kind = "memory"
            inputs = ["join", "w:late"]
            "#,
        );
        let names: Vec<&str> = plan.operators.iter().map(|o| o.name.as_str()).collect();
        assert_eq!(names, ["w", "join"]);
        let join = &plan.operators[1];
        assert_eq!(
            join.inputs
                .iter()
                .map(|i| (i.producer.as_str(), i.first_channel))
                .collect::<Vec<_>>(),
            [("w", 0), ("a", 3)]
        );
        assert_eq!((join.channels, join.left_channels), (4, 3));
        assert_eq!(plan.operators[0].successors, [1]);
        assert_eq!(
            plan.sinks[0].channels,
            1 + 3,
            "join, then the 3 late outputs of w"
        );
        assert_eq!(plan.actor_labels(), ["j/join", "j/w#2", "j/w#1", "j/w#0"]);
        assert!(matches!(
            &plan.operators[0].module,
            ModuleSource::Component(path) if path == Path::new("/jobs/w.wasm")
        ));
        assert_eq!(plan.windows().len(), 1);
    }

    #[test]
    fn a_resolver_chooses_the_modules_and_its_refusal_names_the_operator() {
        let spec = JobSpec::parse(
            r#"
            name = "j"
            [[source]]
            name = "a"
            kind = "stdin"
            [[operator]]
            name = "count"
            module = "wordcount@3"
            inputs = ["a"]
            [[sink]]
            name = "out"
            kind = "memory"
            inputs = ["count"]
            "#,
            "job.toml",
            PathBuf::new(),
        )
        .unwrap();
        let err =
            JobPlan::with_modules(&spec, |module| Err(format!("no module {module}"))).unwrap_err();
        assert_eq!(
            err.to_string(),
            "operator \"count\": module \"wordcount@3\": no module wordcount@3"
        );
    }
}
