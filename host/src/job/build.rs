//! Wiring a job onto a host: load its modules, create its actors, sinks and sources, connect
//! them with routed edges, restore them from a checkpoint, and start the sources.

use std::collections::{BTreeMap, HashMap};
use std::io::BufWriter;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value as Json;

use super::recovery::{Recovery, open_file_output};
use super::sources::{self, SourceSetup};
use super::{Host, JobError, JobHandle};
use crate::actor::call::CallContext;
use crate::actor::{Actor, ActorLinks};
use crate::bindings::{Event, JOINER_INTERFACE, WINDOWED_INTERFACE};
use crate::builder;
use crate::dataflow::dead_letter::DeadLetters;
use crate::dataflow::mailbox::Mailbox;
use crate::dataflow::router::{Edge, Partitioning, Router, Target};
use crate::dataflow::sink::{Completion, Sink, SinkLinks, SinkOutput};
use crate::dataflow::spec::{JobSpec, LATE_SUFFIX, SinkKind, producer_of};
use crate::engine::OperatorEngine;
use crate::metrics::JobMetrics;
use crate::registry::{self, OperatorModule};
use crate::sched::profile::{OperatorProfile, ProfileSetup};
use crate::state::TenantState;
use crate::state::checkpoint::{Checkpointer, Participants};

/// Receivers of one producer (a source or operator): per consumer, the targets for each
/// producer instance.
struct Consumers {
    /// Per producer instance, its edges.
    edges: Vec<Vec<Edge>>,
}

/// The operator's `config` table as the JSON object `init` receives.
fn config_json(config: &toml::Table) -> String {
    serde_json::to_value(config)
        .unwrap_or(Json::Object(Default::default()))
        .to_string()
}

/// Loads (building first if it is a crate directory) the module of each operator.
fn load_modules(
    spec: &JobSpec,
    engine: &OperatorEngine,
) -> Result<HashMap<String, OperatorModule>, JobError> {
    let mut by_path: HashMap<PathBuf, OperatorModule> = HashMap::new();
    let mut modules = HashMap::new();
    for operator in &spec.operators {
        let name = operator.name.get_ref().clone();
        let mut path = spec.resolve(operator.module.get_ref());
        if path.is_dir() {
            path = builder::build_rust(&path).map_err(|source| JobError::Build {
                operator: name.clone(),
                source,
            })?;
        }
        let module = match by_path.get(&path) {
            Some(module) => module.clone(),
            None => {
                let module =
                    registry::load_file(engine, &path).map_err(|source| JobError::Load {
                        operator: name.clone(),
                        source,
                    })?;
                by_path.insert(path, module.clone());
                module
            }
        };
        modules.insert(name, module);
    }
    Ok(modules)
}

/// Runs `spec` to completion on a fresh executor and returns its summary and outputs.
/// Wires `spec` onto `host`'s executor and starts its sources.
pub(super) fn build(host: &Host, spec: &JobSpec) -> Result<JobHandle, JobError> {
    let options = &host.options;
    let engine = &host.engine;
    let executor = &host.executor;
    let modules = load_modules(spec, engine)?;
    let activator = executor.activator();
    let metrics = Arc::new(JobMetrics::default());
    let tenant = TenantState::new(&spec.tenant, options.limits.tenant_state_bytes);
    let latency_target = Duration::from_millis(*spec.latency_target_ms.get_ref());
    let completion = Arc::new(Completion::new(spec.sinks.len()));
    let recovery = match &options.data_dir {
        Some(dir) => Some(Recovery::find(spec, dir)?),
        None => None,
    };
    let resuming = recovery.as_ref().is_some_and(|r| r.checkpoint.is_some());
    let actor_labels = executor_labels(spec);
    let checkpointer = recovery.as_ref().map(|recovery| {
        let participants = Participants {
            sources: spec
                .sources
                .iter()
                .map(|s| s.name().get_ref().clone())
                .collect(),
            actors: actor_labels.clone(),
            sinks: spec
                .sinks
                .iter()
                .map(|s| s.name().get_ref().clone())
                .collect(),
        };
        Checkpointer::new(recovery.store.clone(), participants, recovery.last_id)
    });
    if let (Some(checkpointer), Some(Some(checkpoint))) = (
        &checkpointer,
        recovery.as_ref().map(|r| r.checkpoint.as_ref()),
    ) {
        checkpointer.restored_from(checkpoint.id);
        if let Some(missing) = actor_labels
            .iter()
            .find(|l| !checkpoint.actors.contains_key(*l))
        {
            return Err(restore_error(
                recovery.as_ref(),
                checkpoint.id,
                format!("it holds no state for {missing}"),
            ));
        }
        if let Some(extra) = checkpoint.actors.keys().find(|l| !actor_labels.contains(l)) {
            return Err(restore_error(
                recovery.as_ref(),
                checkpoint.id,
                format!("it holds state for {extra}, which the job no longer has"),
            ));
        }
    }
    let dead_letter_writer = match &spec.dead_letter {
        Some(dl) => {
            let path = spec.resolve(&dl.path);
            let file = std::fs::OpenOptions::new()
                .create(true)
                .write(true)
                .append(resuming)
                .truncate(!resuming)
                .open(&path)
                .map_err(|source| JobError::Open {
                    what: "dead_letter",
                    name: "dead_letter".into(),
                    path: path.display().to_string(),
                    source,
                })?;
            Some(Box::new(BufWriter::new(file)) as Box<dyn std::io::Write + Send>)
        }
        None => None,
    };
    let dead_letters = Arc::new(DeadLetters::new(dead_letter_writer, Arc::clone(&metrics)));

    // Instances per producer name.
    let mut instances: HashMap<&str, usize> = HashMap::new();
    for source in &spec.sources {
        instances.insert(source.name().get_ref(), 1);
    }
    let late_names: Vec<(String, usize)> = spec
        .operators
        .iter()
        .filter(|o| o.window.is_some())
        .map(|o| {
            (
                format!("{}{LATE_SUFFIX}", o.name.get_ref()),
                *o.parallelism.get_ref(),
            )
        })
        .collect();
    for operator in &spec.operators {
        instances.insert(operator.name.get_ref(), *operator.parallelism.get_ref());
    }
    for (late, parallelism) in &late_names {
        instances.insert(late, *parallelism);
    }
    // Channels of a consumer: one per producer instance, numbered in `inputs` order.
    let channel_base = |inputs: &[toml::Spanned<String>], producer: &str| -> usize {
        inputs
            .iter()
            .take_while(|i| i.get_ref() != producer)
            .map(|i| instances.get(i.get_ref().as_str()).copied().unwrap_or(1))
            .sum()
    };
    let channels = |inputs: &[toml::Spanned<String>]| -> usize {
        inputs
            .iter()
            .map(|i| instances.get(i.get_ref().as_str()).copied().unwrap_or(1))
            .sum()
    };

    // Sinks first, then operators downstream-first, so every producer finds its receivers.
    let mut memory_outputs: BTreeMap<String, Arc<Mutex<Vec<Event>>>> = BTreeMap::new();
    let mut consumers: HashMap<String, Consumers> = HashMap::new();
    let add_edges = |consumers: &mut HashMap<String, Consumers>,
                     producer: &str,
                     targets: &dyn Fn(usize) -> Vec<Target>,
                     partition: Partitioning| {
        let n = instances.get(producer).copied().unwrap_or(1);
        let entry = consumers
            .entry(producer.to_string())
            .or_insert_with(|| Consumers {
                edges: (0..n).map(|_| Vec::new()).collect(),
            });
        for (instance, edges) in entry.edges.iter_mut().enumerate() {
            edges.push(Edge::new(targets(instance), partition));
        }
    };
    for sink_spec in &spec.sinks {
        let name = sink_spec.name().get_ref().clone();
        let output = match sink_spec.kind.get_ref() {
            SinkKind::Stdout => SinkOutput::Writer(Box::new(BufWriter::new(std::io::stdout()))),
            SinkKind::File => {
                let path = spec.resolve(sink_spec.path.as_ref().map_or("", |p| p.get_ref()));
                let resume_at = recovery
                    .as_ref()
                    .filter(|_| resuming)
                    .map(|r| r.sink_position(&name).bytes);
                let file = open_file_output(&path, resume_at).map_err(|source| JobError::Open {
                    what: "sink",
                    name: name.clone(),
                    path: path.display().to_string(),
                    source,
                })?;
                SinkOutput::Writer(Box::new(BufWriter::new(file)))
            }
            SinkKind::Memory => {
                let kept = Arc::new(Mutex::new(Vec::new()));
                memory_outputs.insert(name.clone(), Arc::clone(&kept));
                SinkOutput::Memory(kept)
            }
            SinkKind::Discard => SinkOutput::Discard,
        };
        let format = sink_spec.format;
        let inputs = sink_spec.inputs();
        let position = recovery
            .as_ref()
            .map(|r| r.sink_position(&name))
            .unwrap_or_default();
        let sink = Arc::new(Sink::new(
            name,
            format,
            output,
            channels(inputs),
            position,
            SinkLinks {
                metrics: Arc::clone(&metrics),
                completion: Arc::clone(&completion),
                checkpointer: checkpointer.clone(),
            },
        ));
        for input in inputs {
            let base = channel_base(inputs, input.get_ref());
            let sink = Arc::clone(&sink);
            add_edges(
                &mut consumers,
                input.get_ref(),
                &|instance| {
                    vec![Target::Sink {
                        sink: Arc::clone(&sink),
                        channel: base + instance,
                    }]
                },
                Partitioning::Forward,
            );
        }
    }
    let ordered = spec.operators_in_order();
    let tenant_index = executor.tenant(&spec.tenant);
    let watermark_delay_ms = spec
        .sources
        .iter()
        .map(|s| s.watermark_delay_ms)
        .max()
        .unwrap_or(0)
        .min(i64::MAX as u64) as i64;
    let profiles: HashMap<&str, Arc<OperatorProfile>> = spec
        .operators
        .iter()
        .map(|operator| {
            let name = operator.name.get_ref().as_str();
            let profile = OperatorProfile::new(ProfileSetup {
                name: format!("{}/{name}", spec.name.get_ref()),
                tenant: tenant_index,
                latency_target,
                window: operator.window.as_ref().and_then(|w| w.to_def().ok()),
                watermark_delay_ms,
                ns_per_fuel: host.ns_per_fuel,
            });
            (name, profile)
        })
        .collect();
    for operator in &spec.operators {
        let successors = spec
            .operators
            .iter()
            .filter(|o| {
                o.inputs
                    .iter()
                    .any(|i| producer_of(i.get_ref()) == operator.name.get_ref())
            })
            .filter_map(|o| profiles.get(o.name.get_ref().as_str()).cloned())
            .collect();
        if let Some(profile) = profiles.get(operator.name.get_ref().as_str()) {
            profile.set_successors(successors);
        }
    }
    for operator in ordered.iter().rev() {
        let name = operator.name.get_ref().as_str();
        let parallelism = *operator.parallelism.get_ref();
        let Some(profile) = profiles.get(name).cloned() else {
            continue;
        };
        let Some(module) = modules.get(name) else {
            continue;
        };
        let mut edges_per_instance = consumers
            .remove(name)
            .map(|c| c.edges)
            .unwrap_or_else(|| (0..parallelism).map(|_| Vec::new()).collect());
        let mut late_edges_per_instance = consumers
            .remove(&format!("{name}{LATE_SUFFIX}"))
            .map(|c| c.edges);
        let window = operator.window.as_ref().and_then(|w| w.to_def().ok());
        let join = operator.join.as_ref().map(|j| j.to_def());
        if join.is_some() && module.joiner().is_none() {
            return Err(JobError::Mismatch {
                operator: name.to_string(),
                reason: format!(
                    "the job declares a join for it, but {} does not export {JOINER_INTERFACE}; \
                     build it against the join-operator world (cameo_sdk::export_joiner!)",
                    module.name()
                ),
            });
        }
        let left_channels = operator.inputs.first().map_or(0, |first| {
            instances
                .get(first.get_ref().as_str())
                .copied()
                .unwrap_or(1)
        });
        if window.is_some() && module.windowed().is_none() {
            return Err(JobError::Mismatch {
                operator: name.to_string(),
                reason: format!(
                    "the job declares a window for it, but {} does not export {WINDOWED_INTERFACE}; \
                     build it against the windowed-operator world (cameo_sdk::export_windowed!)",
                    module.name()
                ),
            });
        }
        let config: Arc<str> = config_json(&operator.config).into();
        let operator_label: Arc<str> = format!("{}/{name}", spec.name.get_ref()).into();
        let mut targets = Vec::new();
        for instance in (0..parallelism).rev() {
            let mailbox = Arc::new(Mailbox::new(options.limits.mailbox_capacity));
            let task = executor.next_task_id();
            let label: Arc<str> = actor_label(spec, name, instance, parallelism).into();
            let edges = edges_per_instance.pop().unwrap_or_default();
            let late = late_edges_per_instance
                .as_mut()
                .and_then(Vec::pop)
                .map(|edges| Router::new(edges, instance, parallelism));
            let links = ActorLinks {
                operator: Arc::clone(&operator_label),
                task,
                mailbox: Arc::clone(&mailbox),
                router: Router::new(edges, instance, parallelism),
                inputs: channels(&operator.inputs),
                metrics: Arc::clone(&metrics),
                dead_letters: Arc::clone(&dead_letters),
                completion: Arc::clone(&completion),
                late,
                checkpointer: checkpointer.clone(),
                left_channels,
                latency_target,
                profile: Arc::clone(&profile),
            };
            let cx = CallContext {
                module: module.clone(),
                config: Arc::clone(&config),
                limits: options.limits.clone(),
                window,
                join,
                tenant: Arc::clone(&tenant),
            };
            let snapshot = recovery
                .as_ref()
                .and_then(|r| r.checkpoint.as_ref())
                .and_then(|c| c.actors.get(&*label))
                .cloned();
            let label_text = label.to_string();
            let mut actor = Actor::new(label, engine.clone(), cx, links);
            if let Some(snapshot) = snapshot {
                actor.restore(snapshot);
            }
            let added = host.add_task(label_text, Box::new(actor));
            debug_assert_eq!(added, task);
            targets.push((task, mailbox));
        }
        targets.reverse();
        for input in &operator.inputs {
            let base = channel_base(&operator.inputs, input.get_ref());
            let targets = &targets;
            let profile = &profile;
            add_edges(
                &mut consumers,
                input.get_ref(),
                &|instance| {
                    targets
                        .iter()
                        .map(|(task, mailbox)| Target::Actor {
                            task: *task,
                            profile: Arc::clone(profile),
                            mailbox: Arc::clone(mailbox),
                            channel: base + instance,
                        })
                        .collect()
                },
                operator.partition,
            );
        }
    }

    let started = Instant::now();
    let setup = SourceSetup {
        executor,
        activator: &activator,
        metrics: &metrics,
        dead_letters: &dead_letters,
        completion: &completion,
        checkpointer: checkpointer.as_ref(),
        recovery: recovery.as_ref(),
        latency_target,
        chunk: options.limits.batch_size,
    };
    let take_edges = |name: &str| {
        consumers
            .remove(name)
            .and_then(|c| c.edges.into_iter().next())
            .unwrap_or_default()
    };
    // When a source cannot start, the job fails (the sources already registered end at their
    // first run) and none is armed.
    let source_tasks = match sources::register(spec, &setup, take_edges) {
        Ok(tasks) => tasks,
        Err(err) => {
            completion.fail(format!("the job could not start: {err}"));
            return Err(err);
        }
    };
    for task in &source_tasks {
        activator.arm(*task, Instant::now());
    }

    Ok(JobHandle {
        name: spec.name.get_ref().clone(),
        started,
        completion,
        metrics,
        tenant,
        memory_outputs,
        source_tasks,
        activator,
        checkpointer,
        checkpoint_interval: options.checkpoint_interval,
        recovery,
        profiles: profiles.into_values().collect(),
    })
}

fn restore_error(recovery: Option<&Recovery>, id: u64, reason: String) -> JobError {
    JobError::Restore {
        id,
        reason,
        dir: recovery
            .map(|r| r.store.dir().display().to_string())
            .unwrap_or_default(),
    }
}

/// The label of instance `instance` of `parallelism` of `operator`: `job/operator`, with
/// `#instance` when there are several.
fn actor_label(spec: &JobSpec, operator: &str, instance: usize, parallelism: usize) -> String {
    if parallelism == 1 {
        format!("{}/{operator}", spec.name.get_ref())
    } else {
        format!("{}/{operator}#{instance}", spec.name.get_ref())
    }
}

/// Labels of the tasks in the order they are registered (downstream operators first,
/// instances in order).
fn executor_labels(spec: &JobSpec) -> Vec<String> {
    let mut labels = Vec::new();
    for operator in spec.operators_in_order().iter().rev() {
        let parallelism = *operator.parallelism.get_ref();
        for instance in (0..parallelism).rev() {
            labels.push(actor_label(
                spec,
                operator.name.get_ref(),
                instance,
                parallelism,
            ));
        }
    }
    labels
}
