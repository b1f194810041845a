//! Wiring a [`JobPlan`] onto a host: load its modules, create its sinks, profiles and actors,
//! connect them with routed edges, restore them from a checkpoint, and start the sources.
//!
//! Modules (that they load and export what the job asks), the checkpoint to resume and the
//! sinks' files are checked before the first task is registered, so a job refused for them
//! leaves nothing behind on the host. A source file that does not open fails the job after its
//! actors are registered: they end at once, without running.

use std::collections::{BTreeMap, HashMap};
use std::io::BufWriter;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use super::endpoints;
use super::plan::{InputPlan, JobPlan, ModuleSource, OperatorPlan, SinkPlan, SinkTarget};
use super::recovery::{Recovery, open_file_output};
use super::sources::{self, SourceSetup};
use super::{Host, JobError, JobHandle};
use crate::actor::call::CallContext;
use crate::actor::shadow::ShadowLinks;
use crate::actor::upgrade::ModuleSwitch;
use crate::actor::{Actor, ActorLinks};
use crate::bindings::Event;
use crate::budget::Accounts;
use crate::builder;
use crate::dataflow::dead_letter::DeadLetters;
use crate::dataflow::edge_watermarks::{EdgeWatermarks, Receiver, WideInputs};
use crate::dataflow::mailbox::Mailbox;
use crate::dataflow::outlet::Outlet;
use crate::dataflow::profile::{OperatorProfile, ProfileSetup};
use crate::dataflow::router::{Edge, Partitioning, Router, Target};
use crate::dataflow::sink::{Completion, Sink, SinkLinks, SinkOutput};
use crate::limits::Limits;
use crate::metrics::{JobMetrics, MailboxDepth};
use crate::registry::OperatorModule;
use crate::sched::TaskId;
use crate::state::checkpoint::{Checkpointer, DEAD_LETTERS, Participants};

/// What the parts of one job share while it is wired.
struct Wiring<'a> {
    host: &'a Host,
    plan: &'a JobPlan,
    metrics: Arc<JobMetrics>,
    completion: Arc<Completion>,
    checkpointer: Option<Arc<Checkpointer>>,
    recovery: Option<Recovery>,
    /// Per producer output (as `inputs` name it), per producer instance: its edges.
    edges: HashMap<String, Vec<Vec<Edge>>>,
    /// The output files of http sinks, by sink name.
    outlets: &'a BTreeMap<String, PathBuf>,
    /// The http sinks' outputs once opened, by sink name.
    outlets_opened: endpoints::OpenedOutlets,
}

/// Wires `plan` onto `host`'s executor and starts its sources.
pub(super) fn build(host: &Host, plan: &JobPlan) -> Result<JobHandle, JobError> {
    let limits = plan
        .operators
        .iter()
        .map(|operator| operator_limits(&host.options.limits, operator))
        .collect::<Result<Vec<Limits>, JobError>>()?;
    let mut modules = load_modules(plan, host)?;
    let recovery = match &host.options.data_dir {
        Some(dir) => Some(Recovery::find(&plan.name, dir)?),
        None => None,
    };
    if let Some(recovery) = &recovery {
        recovery.resume_modules(plan, &mut modules)?;
    }
    let endpoints = endpoints::open(
        plan,
        host.options.data_dir.as_deref(),
        (
            host.options.inlet_capacity,
            host.options.inlet_segment_bytes,
        ),
    )?;
    let checkpointer = match &recovery {
        Some(recovery) => Some(checkpointer(plan, recovery)?),
        None => None,
    };
    let metrics = Arc::new(JobMetrics::default());
    metrics.set_sink_paths(super::paths::operators_into_sinks(plan));
    let dead_letter_position = recovery
        .as_ref()
        .filter(|r| r.checkpoint.is_some())
        .map(|r| r.sink_position(DEAD_LETTERS))
        .unwrap_or_default();
    let outlets_opened = endpoints::OpenedOutlets::default();
    let resumed_from = recovery
        .as_ref()
        .and_then(|r| r.checkpoint.as_ref())
        .map_or(0, |checkpoint| checkpoint.id);
    let dead_letters = Arc::new(DeadLetters::new(
        open_dead_letters(
            plan,
            recovery.as_ref(),
            (host.options.outlet_keep_bytes, &outlets_opened),
        )?,
        dead_letter_position,
        resumed_from,
        Arc::clone(&metrics),
    ));
    if let Some(checkpointer) = &checkpointer {
        checkpointer.watch_dead_letters(Arc::clone(&dead_letters));
        checkpointer.on_release(endpoints::release_hook(
            endpoints.inlets.clone(),
            outlets_opened.clone(),
        ));
    }
    let mut wiring = Wiring {
        host,
        plan,
        metrics,
        completion: Arc::new(Completion::new(plan.sinks.len())),
        checkpointer,
        recovery,
        edges: HashMap::new(),
        outlets: &endpoints.outlets,
        outlets_opened,
    };
    // Sinks first, then operators downstream-first, so every producer finds its receivers.
    let mut memory_outputs = BTreeMap::new();
    for sink in &plan.sinks {
        if let Some(kept) = wiring.add_sink(sink)? {
            memory_outputs.insert(sink.name.clone(), kept);
        }
    }
    let profiles = wiring.profiles();
    let accounts = Accounts {
        budget: host.budget.for_job(&plan.tenant, &plan.name),
        state: host.tenant_state(&plan.tenant),
    };
    let mut switches = BTreeMap::new();
    for (index, operator) in plan.operators.iter().enumerate().rev() {
        let (Some(module), Some(profile), Some(limits)) = (
            modules.get(&operator.name),
            profiles.get(index),
            limits.get(index),
        ) else {
            continue;
        };
        let cx = CallContext {
            operator: operator.label.as_str().into(),
            module: module.clone(),
            config: Arc::clone(&operator.config),
            limits: limits.clone(),
            window: operator.window,
            join: operator.join,
            accounts: accounts.clone(),
            convert_from: None,
        };
        let switch = ModuleSwitch::new(cx.clone(), host.engine.clone());
        switches.insert(operator.name.clone(), Arc::clone(&switch));
        wiring.add_actors(operator, cx, profile, &dead_letters, switch);
    }
    let started = Instant::now();
    let activator = host.executor.activator();
    let setup = SourceSetup {
        executor: &host.executor,
        activator: &activator,
        metrics: &wiring.metrics,
        dead_letters: &dead_letters,
        completion: &wiring.completion,
        checkpointer: wiring.checkpointer.as_ref(),
        recovery: wiring.recovery.as_ref(),
        latency_target: plan.latency_target,
        chunk: host.options.limits.batch_size,
        windows: plan.windows(),
        inlets: &endpoints.inlets,
    };
    let mut edges = std::mem::take(&mut wiring.edges);
    let take_edges = |name: &str| {
        edges
            .remove(name)
            .and_then(|per_instance| per_instance.into_iter().next())
            .unwrap_or_default()
    };
    // When a source cannot start, the job fails (the sources already registered end at their
    // first run) and none is armed.
    let source_tasks = match sources::register(plan, &setup, take_edges) {
        Ok(tasks) => tasks,
        Err(err) => {
            wiring
                .completion
                .fail(format!("the job could not start: {err}"));
            return Err(err);
        }
    };
    for task in &source_tasks {
        activator.arm(*task, Instant::now());
    }
    Ok(JobHandle {
        name: plan.name.clone(),
        started,
        completion: wiring.completion,
        metrics: wiring.metrics,
        accounts,
        memory_outputs,
        source_tasks,
        activator,
        checkpointer: wiring.checkpointer,
        checkpoint_interval: host.options.checkpoint_interval,
        recovery: wiring.recovery,
        profiles,
        switches,
        inlets: endpoints.inlets.clone(),
        outlets: endpoints.outlets.clone(),
        spawner: host.executor.spawner(),
    })
}

/// Loads (building first where the plan says so) the module of each operator, and checks that
/// it exports what the job asks of it.
fn load_modules(plan: &JobPlan, host: &Host) -> Result<HashMap<String, OperatorModule>, JobError> {
    let mut by_path: HashMap<PathBuf, OperatorModule> = HashMap::new();
    let mut modules = HashMap::new();
    for operator in &plan.operators {
        let name = &operator.name;
        let mut load = |path: PathBuf| -> Result<OperatorModule, JobError> {
            if let Some(module) = by_path.get(&path) {
                return Ok(module.clone());
            }
            let cache = host.options.compiled_cache.as_deref();
            let module =
                OperatorModule::load_file_cached(&host.engine, &path, cache).map_err(|source| {
                    JobError::Load {
                        operator: name.clone(),
                        source,
                    }
                })?;
            by_path.insert(path, module.clone());
            Ok(module)
        };
        let module = match &operator.module {
            ModuleSource::Loaded(module) if !module.is_for(&host.engine) => {
                return Err(JobError::Mismatch {
                    operator: name.clone(),
                    reason: format!(
                        "{} was loaded by another engine; load it with this host's engine \
                         (Host::engine)",
                        module.name()
                    ),
                });
            }
            ModuleSource::Loaded(module) => module.clone(),
            ModuleSource::Component(path) => load(path.clone())?,
            ModuleSource::RustCrate(dir) => {
                load(builder::build_rust(dir).map_err(|source| JobError::Build {
                    operator: name.clone(),
                    source,
                })?)?
            }
        };
        check_exports(operator, &module)?;
        modules.insert(name.clone(), module);
    }
    Ok(modules)
}

/// The limits `operator`'s calls run under: the host's, with the operator's own fuel per
/// call when its spec asks for one within the host's bound.
fn operator_limits(limits: &Limits, operator: &OperatorPlan) -> Result<Limits, JobError> {
    let mut limits = limits.clone();
    if let Some(asked) = operator.fuel_per_call {
        let ceiling = limits.max_fuel_per_call.max(limits.fuel_per_call);
        if asked > ceiling {
            return Err(JobError::FuelCeiling {
                operator: operator.name.clone(),
                asked,
                ceiling,
            });
        }
        limits.fuel_per_call = asked;
    }
    Ok(limits)
}

/// Refuses a module that lacks the export a window or join of the job needs.
fn check_exports(operator: &OperatorPlan, module: &OperatorModule) -> Result<(), JobError> {
    match module.missing_export(operator.window.is_some(), operator.join.is_some()) {
        Some(reason) => Err(JobError::Mismatch {
            operator: operator.name.clone(),
            reason,
        }),
        None => Ok(()),
    }
}

/// The job's checkpoint coordinator, after checking that the checkpoint it resumes from (if
/// any) holds state for exactly the job's operator instances.
fn checkpointer(plan: &JobPlan, recovery: &Recovery) -> Result<Arc<Checkpointer>, JobError> {
    let actors = plan.actor_labels();
    if let Some(checkpoint) = &recovery.checkpoint {
        let refuse = |reason: String| JobError::Restore {
            id: checkpoint.id,
            reason,
            dir: recovery.store.dir().display().to_string(),
        };
        if let Some(missing) = actors.iter().find(|l| !checkpoint.actors.contains_key(*l)) {
            return Err(refuse(format!("it holds no state for {missing}")));
        }
        if let Some(extra) = checkpoint.actors.keys().find(|l| !actors.contains(l)) {
            return Err(refuse(format!(
                "it holds state for {extra}, which the job no longer has"
            )));
        }
    }
    let participants = Participants {
        sources: plan.sources.iter().map(|s| s.name.clone()).collect(),
        actors,
        sinks: plan.sinks.iter().map(|s| s.name.clone()).collect(),
    };
    let checkpointer = Checkpointer::new(recovery.store.clone(), participants, recovery.last_id);
    if let Some(checkpoint) = &recovery.checkpoint {
        checkpointer.restored_from(checkpoint.id);
    }
    Ok(checkpointer)
}

/// The dead-letter file: created afresh, or when resuming cut back to where the checkpoint
/// left it (the letters after it are written again, with the same `seq`).
/// Dead letters kept as an outlet are added to `outlets` (under [`DEAD_LETTERS`]).
fn open_dead_letters(
    plan: &JobPlan,
    recovery: Option<&Recovery>,
    (keep_bytes, outlets): (u64, &endpoints::OpenedOutlets),
) -> Result<Option<Box<dyn std::io::Write + Send>>, JobError> {
    let Some(path) = &plan.dead_letter else {
        return Ok(None);
    };
    let resume_at = recovery
        .filter(|r| r.checkpoint.is_some())
        .map(|r| r.sink_position(DEAD_LETTERS).bytes);
    let failed = |source| JobError::Open {
        what: "dead_letter",
        name: "dead_letter".into(),
        path: path.display().to_string(),
        source,
    };
    if plan.dead_letter_kept {
        let outlet = Outlet::open(path, keep_bytes, resume_at).map_err(failed)?;
        outlets.insert(DEAD_LETTERS.to_string(), outlet.clone());
        return Ok(Some(Box::new(outlet)));
    }
    let file = open_file_output(path, resume_at).map_err(failed)?;
    Ok(Some(Box::new(BufWriter::new(file))))
}

impl Wiring<'_> {
    /// Where the checkpoint being resumed (if any) left sink `name`.
    fn resuming(&self) -> Option<&Recovery> {
        self.recovery.as_ref().filter(|r| r.checkpoint.is_some())
    }

    /// Adds the edges from every instance of each of `inputs`' producers to the receiver
    /// `targets` makes for a producer instance's channel.
    /// `combined` gives, by input, where its senders' watermarks are combined, if they are.
    fn connect(
        &mut self,
        inputs: &[InputPlan],
        partition: Partitioning,
        targets: impl Fn(usize) -> Vec<Target>,
        combined: &[Option<Arc<EdgeWatermarks>>],
    ) {
        for (index, input) in inputs.iter().enumerate() {
            let combined = combined.get(index).cloned().flatten();
            let instances = self.instances(&input.producer);
            let per_instance = self
                .edges
                .entry(input.producer.clone())
                .or_insert_with(|| (0..instances).map(|_| Vec::new()).collect());
            for (instance, edges) in per_instance.iter_mut().enumerate() {
                let edge = Edge::new(targets(input.first_channel + instance), partition);
                edges.push(match &combined {
                    Some(watermarks) => edge.combined(Arc::clone(watermarks), instance),
                    None => edge,
                });
            }
        }
    }

    /// Instances of the producer of `output` (a source, an operator, or its late output).
    fn instances(&self, output: &str) -> usize {
        let producer = crate::dataflow::spec::producer_of(output);
        self.plan
            .operators
            .iter()
            .find(|o| o.name == producer)
            .map_or(1, |o| o.parallelism)
    }

    /// Creates a sink and its input edges; returns where a memory sink keeps its events.
    fn add_sink(&mut self, plan: &SinkPlan) -> Result<Option<Arc<Mutex<Vec<Event>>>>, JobError> {
        let mut kept = None;
        let output = match &plan.target {
            SinkTarget::Stdout => SinkOutput::Writer(Box::new(BufWriter::new(std::io::stdout()))),
            SinkTarget::File(path) => {
                let resume_at = self.resuming().map(|r| r.sink_position(&plan.name).bytes);
                let file = open_file_output(path, resume_at).map_err(|source| JobError::Open {
                    what: "sink",
                    name: plan.name.clone(),
                    path: path.display().to_string(),
                    source,
                })?;
                SinkOutput::Writer(Box::new(BufWriter::new(file)))
            }
            SinkTarget::Memory => {
                let events = Arc::new(Mutex::new(Vec::new()));
                kept = Some(Arc::clone(&events));
                SinkOutput::Memory(events)
            }
            SinkTarget::Discard => SinkOutput::Discard,
            SinkTarget::Http => {
                let path = self
                    .outlets
                    .get(&plan.name)
                    .ok_or_else(|| JobError::NoDataDir {
                        name: plan.name.clone(),
                    })?;
                let resume_at = self.resuming().map(|r| r.sink_position(&plan.name).bytes);
                let keep = self.host.options.outlet_keep_bytes;
                let outlet =
                    Outlet::open(path, keep, resume_at).map_err(|source| JobError::Open {
                        what: "sink",
                        name: plan.name.clone(),
                        path: path.display().to_string(),
                        source,
                    })?;
                self.outlets_opened
                    .insert(plan.name.clone(), outlet.clone());
                // Buffered in the outlet and flushed after every batch (see below), so
                // readers see whole lines, a batch at a time, as soon as it is written.
                SinkOutput::Writer(Box::new(outlet))
            }
        };
        let position = self
            .recovery
            .as_ref()
            .map(|r| r.sink_position(&plan.name))
            .unwrap_or_default();
        let sink = Sink::new(
            plan.name.clone(),
            plan.format,
            output,
            plan.channels,
            position,
            SinkLinks {
                metrics: Arc::clone(&self.metrics),
                completion: Arc::clone(&self.completion),
                checkpointer: self.checkpointer.clone(),
            },
        );
        // Others read an http sink's output while it grows: each batch is written at once.
        let sink = Arc::new(match plan.target {
            SinkTarget::Http => sink.flushing_batches(),
            _ => sink,
        });
        self.connect(
            &plan.inputs,
            Partitioning::Forward,
            |channel| {
                vec![Target::Sink {
                    sink: Arc::clone(&sink),
                    channel,
                }]
            },
            &[],
        );
        Ok(kept)
    }

    /// One cost profile per operator, in plan order, each knowing its successors.
    fn profiles(&self) -> Vec<Arc<OperatorProfile>> {
        let tenant = self.host.executor.tenant(&self.plan.tenant);
        let profiles: Vec<Arc<OperatorProfile>> = self
            .plan
            .operators
            .iter()
            .map(|operator| {
                OperatorProfile::new(ProfileSetup {
                    name: operator.label.clone(),
                    tenant,
                    latency_target: self.plan.latency_target,
                    window: operator.window,
                    watermark_delay_ms: self.plan.watermark_delay_ms(),
                    ns_per_fuel: self.host.ns_per_fuel,
                })
            })
            .collect();
        for (operator, profile) in self.plan.operators.iter().zip(&profiles) {
            profile.set_successors(
                operator
                    .successors
                    .iter()
                    .filter_map(|&index| profiles.get(index).cloned())
                    .collect(),
            );
        }
        profiles
    }

    /// Creates the actors of `operator`, restored from the checkpoint being resumed, and the
    /// edges from its producers to their mailboxes.
    fn add_actors(
        &mut self,
        operator: &OperatorPlan,
        cx: CallContext,
        profile: &Arc<OperatorProfile>,
        dead_letters: &Arc<DeadLetters>,
        switch: Arc<ModuleSwitch>,
    ) {
        let parallelism = operator.parallelism;
        let mut edges = self
            .edges
            .remove(&operator.name)
            .unwrap_or_else(|| (0..parallelism).map(|_| Vec::new()).collect());
        let mut late_edges = operator
            .late_output()
            .and_then(|late| self.edges.remove(&late));
        let operator_label: Arc<str> = operator.label.as_str().into();
        // Inputs from several sender instances combine their watermarks once for all
        // instances of this operator.
        let wide = WideInputs::new(
            operator.channels,
            operator
                .inputs
                .iter()
                .map(|input| (input.first_channel, self.instances(&input.producer))),
        );
        switch.set_shadow_links(ShadowLinks {
            instances: (0..parallelism)
                .map(|instance| operator.instance_label(instance))
                .collect(),
            operator: Arc::clone(&operator_label),
            inputs: wide.groups().clone(),
            metrics: Arc::clone(&self.metrics),
            dead_letters: Arc::clone(dead_letters),
            completion: Arc::clone(&self.completion),
            left_channels: operator.left_channels,
            latency_target: self.plan.latency_target,
            profile: Arc::clone(profile),
        });
        let mut targets: Vec<(TaskId, Arc<Mailbox>)> = Vec::with_capacity(parallelism);
        let full_peers = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        for instance in (0..parallelism).rev() {
            let label = operator.instance_label(instance);
            let limits = &self.host.options.limits;
            let mailbox = Arc::new(
                Mailbox::new(limits.mailbox_capacity)
                    .bounded_in_bytes(limits.mailbox_bytes, cx.accounts.budget.clone())
                    .with_groups(wide.groups().clone())
                    .counting_fullness_in(Arc::clone(&full_peers)),
            );
            let watched = Arc::clone(&mailbox);
            self.metrics.watch_mailbox(
                label.clone(),
                Box::new(move || {
                    let (events, bytes) = watched.depth();
                    MailboxDepth {
                        events: events as u64,
                        bytes,
                    }
                }),
            );
            let snapshot = self
                .recovery
                .as_ref()
                .and_then(|r| r.checkpoint.as_ref())
                .and_then(|c| c.actors.get(&label))
                .cloned();
            let router = Router::new(edges.pop().unwrap_or_default(), instance, parallelism);
            let late = late_edges
                .as_mut()
                .and_then(Vec::pop)
                .map(|edges| Router::new(edges, instance, parallelism));
            let task = self.host.add_task(label.clone(), |task| {
                let links = ActorLinks {
                    operator: Arc::clone(&operator_label),
                    task,
                    mailbox: Arc::clone(&mailbox),
                    router,
                    inputs: wide.groups().clone(),
                    metrics: Arc::clone(&self.metrics),
                    dead_letters: Arc::clone(dead_letters),
                    completion: Arc::clone(&self.completion),
                    late,
                    checkpointer: self.checkpointer.clone(),
                    left_channels: operator.left_channels,
                    latency_target: self.plan.latency_target,
                    profile: Arc::clone(profile),
                    switch: Arc::clone(&switch),
                };
                let mut actor = Actor::new(
                    label.as_str().into(),
                    self.host.engine.clone(),
                    cx.clone(),
                    links,
                );
                if let Some(snapshot) = snapshot {
                    actor.restore(snapshot);
                }
                Box::new(actor)
            });
            targets.push((task, mailbox));
        }
        targets.reverse();
        let combined = wide.edges(
            targets
                .iter()
                .map(|(task, mailbox)| Receiver {
                    task: *task,
                    mailbox: Arc::clone(mailbox),
                })
                .collect(),
        );
        self.connect(
            &operator.inputs,
            operator.partition,
            |channel| {
                targets
                    .iter()
                    .map(|(task, mailbox)| Target::Actor {
                        task: *task,
                        profile: Arc::clone(profile),
                        mailbox: Arc::clone(mailbox),
                        channel,
                    })
                    .collect()
            },
            &combined,
        );
    }
}
