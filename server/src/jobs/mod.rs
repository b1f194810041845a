//! Jobs on the server's host: submitted from a spec whose operators name registry modules,
//! recorded in the database before they start, watched while they run, and resumed from
//! their last checkpoint when the server starts again. Their http sources and sinks are the
//! way events go in and out.
//!
//! # Layout
//! - this file: the running jobs, submitting, starting, resuming after a restart, sending.
//! - [`spec`]: job specs as a server takes them.
//! - [`pause`]: pausing at a checkpoint barrier, resuming, cancelling a paused job.
//! - [`upgrade`]: changing a running operator's module version, and rolling it back.
//! - [`shadow`]: another version run beside a running operator, reported, promoted, stopped.
//! - [`graph`]: a job's operator graph, for the console.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

use cameo_host::{
    Host, Inlet, InletError, JobError, JobMonitor, JobPlan, ModuleSource, OperatorModule,
};

use crate::AppState;
use crate::auth::Principal;
use crate::error::ApiError;
use crate::quota::{check_running, instances_of, lines_in};
use crate::store::{Job, JobState, now_ms};

pub mod graph;
mod pause;
pub mod shadow;
mod spec;
pub mod upgrade;

pub use pause::{cancel_paused, resume};
pub use spec::{parse_spec, spec_text};

/// How long a shutdown waits for each running job's checkpoint.
const SHUTDOWN_CHECKPOINT: Duration = Duration::from_secs(10);

/// A job running on the host.
struct Running {
    tenant: String,
    monitor: JobMonitor,
    inlets: BTreeMap<String, Inlet>,
    /// Module versions it runs (`name@N`).
    modules: Vec<String>,
    /// The module version each operator runs, by operator name.
    operators: BTreeMap<String, String>,
    /// Operator instances it runs.
    instances: u64,
    /// Set when a user cancels it (rather than the server stopping).
    cancelled: Arc<AtomicBool>,
    /// Set when a user pauses it.
    paused: Arc<AtomicBool>,
    waiter: Option<JoinHandle<()>>,
}

/// Where an http source of a job stands, as [`Jobs::inlet`] finds it.
pub enum InletLookup {
    /// The job runs and this is the source's inlet.
    Open(Inlet),
    /// The job is being paused: it takes no more events.
    Pausing,
    /// The job runs but has no such http source.
    NoSuchSource,
    /// The job does not run here (its record says why).
    NotRunning,
}

/// The server's jobs.
pub struct Jobs {
    host: Mutex<Option<Arc<Host>>>,
    running: Mutex<HashMap<String, Running>>,
    stopping: AtomicBool,
    /// Held from a quota check to the job's start, so two jobs cannot both pass it.
    admission: Mutex<()>,
    /// Jobs one of whose operators is changing module now.
    changing: Mutex<HashSet<String>>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Jobs {
    /// The jobs of `host` (started).
    pub fn new(host: Host) -> Self {
        Jobs {
            host: Mutex::new(Some(Arc::new(host))),
            running: Mutex::new(HashMap::new()),
            stopping: AtomicBool::new(false),
            admission: Mutex::new(()),
            changing: Mutex::new(HashSet::new()),
        }
    }

    /// The host, unless the server is stopping.
    pub fn host(&self) -> Result<Arc<Host>, ApiError> {
        lock(&self.host)
            .clone()
            .ok_or_else(|| ApiError::unavailable("the server is shutting down; retry later"))
    }

    /// Jobs of `tenant` running now, and the operator instances they run.
    pub fn running_count(&self, tenant: &str) -> (u64, u64) {
        lock(&self.running)
            .values()
            .filter(|r| r.tenant == tenant)
            .fold((0, 0), |(jobs, instances), r| {
                (jobs + 1, instances + r.instances)
            })
    }

    /// The running job of `tenant` that uses `pinned` (`name@N`), if any.
    pub fn user_of(&self, tenant: &str, pinned: &str) -> Option<String> {
        lock(&self.running)
            .iter()
            .find(|(_, r)| r.tenant == tenant && r.modules.iter().any(|m| m == pinned))
            .map(|(id, _)| id.clone())
    }

    /// Live figures, inputs and operator instances (with their mailboxes' depth) of running
    /// job `id`.
    pub fn live(&self, id: &str) -> Option<serde_json::Value> {
        let running = lock(&self.running);
        let job = running.get(id)?;
        let sources: serde_json::Map<String, serde_json::Value> = job
            .inlets
            .iter()
            .map(|(name, inlet)| {
                (
                    name.clone(),
                    serde_json::json!({
                        "lines": inlet.lines(),
                        "unread_bytes": inlet.unread(),
                        "ended": inlet.is_closed(),
                    }),
                )
            })
            .collect();
        let prefix = format!("{id}/");
        let instances: Vec<serde_json::Value> = job
            .monitor
            .mailbox_depths()
            .into_iter()
            .map(|(label, depth)| {
                let name = label.strip_prefix(&prefix).unwrap_or(&label);
                let (operator, instance) = name.split_once('#').unwrap_or((name, "0"));
                serde_json::json!({
                    "operator": operator,
                    "instance": instance.parse::<u64>().unwrap_or(0),
                    "mailbox_events": depth.events,
                    "mailbox_bytes": depth.bytes,
                })
            })
            .collect();
        Some(serde_json::json!({
            "summary": job.monitor.summary(),
            "sources": sources,
            "instances": instances,
        }))
    }

    /// True while job `id` runs here.
    pub fn is_running(&self, id: &str) -> bool {
        lock(&self.running).contains_key(id)
    }

    /// The running jobs, of `tenant` only if given.
    pub fn live_jobs(&self, tenant: Option<&str>) -> Vec<crate::metrics::LiveJob> {
        lock(&self.running)
            .iter()
            .filter(|(_, r)| tenant.is_none_or(|t| r.tenant == t))
            .map(|(id, r)| crate::metrics::LiveJob {
                id: id.clone(),
                tenant: r.tenant.clone(),
                monitor: r.monitor.clone(),
                operators: r.operators.clone(),
                inlets: r.inlets.clone(),
            })
            .collect()
    }

    /// Where http source `source` of job `id` stands here: its inlet while the job runs.
    pub fn inlet(&self, id: &str, source: &str) -> InletLookup {
        match lock(&self.running).get(id) {
            None => InletLookup::NotRunning,
            Some(job) if job.paused.load(Ordering::Acquire) => InletLookup::Pausing,
            Some(job) => match job.inlets.get(source) {
                Some(inlet) => InletLookup::Open(inlet.clone()),
                None => InletLookup::NoSuchSource,
            },
        }
    }

    /// Cancels running job `id`; false when it is not running.
    pub fn cancel(&self, id: &str) -> bool {
        match lock(&self.running).get(id) {
            Some(job) => {
                job.cancelled.store(true, Ordering::Release);
                job.monitor.cancel();
                true
            }
            None => false,
        }
    }

    /// Checkpoints and stops every running job (they resume at the next start), then the
    /// host.
    pub fn shutdown(&self) {
        self.stopping.store(true, Ordering::Release);
        let monitors: Vec<JobMonitor> = lock(&self.running)
            .values()
            .map(|r| r.monitor.clone())
            .collect();
        for monitor in &monitors {
            if !monitor.checkpoint(SHUTDOWN_CHECKPOINT) && !monitor.is_finished() {
                tracing::warn!("a job could not be checkpointed before the server stopped");
            }
            monitor.cancel();
        }
        let waiters: Vec<JoinHandle<()>> = lock(&self.running)
            .values_mut()
            .filter_map(|r| r.waiter.take())
            .collect();
        for waiter in waiters {
            let _ = waiter.join();
        }
        let host = lock(&self.host).take();
        if let Some(host) = host {
            match Arc::try_unwrap(host) {
                Ok(host) => host.shutdown(),
                Err(_) => tracing::warn!("the host is still in use; its workers stop on exit"),
            }
        }
    }
}

/// Submits a job from spec `text` for `who`: recorded, then started; a job that cannot start
/// is recorded as failed with the reason.
pub fn submit(
    state: &AppState,
    who: &Principal,
    text: String,
    replay: cameo_host::Replay,
) -> Result<Job, ApiError> {
    let spec = parse_spec(&text)?;
    check_replay(&spec, replay)?;
    let tenant = state
        .store
        .tenant(&who.tenant)?
        .ok_or_else(|| ApiError::unauthorized("this token's tenant no longer exists"))?;
    let _admitted = lock(&state.jobs.admission);
    let (jobs, instances) = state.jobs.running_count(&who.tenant);
    check_running(
        &who.tenant,
        &tenant.quotas,
        jobs,
        instances,
        instances_of(&spec),
    )?;
    let mut modules = BTreeMap::new();
    for operator in &spec.operators {
        let reference = operator.module.get_ref();
        let (pinned, _) = state
            .modules
            .resolve(&state.store, &who.tenant, reference)
            .map_err(|reason| {
                ApiError::unprocessable(format!(
                    "operator \"{}\": module {reason}",
                    operator.name.get_ref()
                ))
            })?;
        modules.insert(reference.clone(), pinned);
    }
    let number = state.store.next("jobs")?;
    let mut job = Job {
        id: format!("j{number}"),
        tenant: who.tenant.clone(),
        name: spec.name.get_ref().clone(),
        spec: text,
        modules,
        state: JobState::Running,
        error: None,
        submitted_ms: now_ms(),
        summary: None,
        operators: BTreeMap::new(),
        shadows: BTreeMap::new(),
    };
    state.store.put_job(&job)?;
    if let Err(reason) = start_with(state, &job, replay) {
        job.state = JobState::Failed;
        job.error = Some(reason);
        state.store.put_job(&job)?;
    }
    Ok(job)
}

/// Refuses a replay `spec`'s sources cannot do (a source that cannot rewind, an event time
/// without an `event_time_field`), before anything is recorded or changed.
pub(crate) fn check_replay(
    spec: &cameo_host::JobSpec,
    replay: cameo_host::Replay,
) -> Result<(), ApiError> {
    if replay.is_none() {
        return Ok(());
    }
    let mut plan = JobPlan::with_modules(spec, |_| {
        Ok(ModuleSource::Component(std::path::PathBuf::new()))
    })
    .map_err(|err| ApiError::unprocessable(err.to_string()))?;
    plan.replay(replay)
        .map(|_| ())
        .map_err(|err| ApiError::unprocessable(err.to_string()))
}

/// Starts (or resumes) recorded job `job` on the host.
pub(crate) fn start(state: &AppState, job: &Job) -> Result<(), String> {
    start_with(state, job, cameo_host::Replay::default())
}

/// Starts (or resumes) recorded job `job` on the host, its rewindable sources replaying from
/// `replay` when it asks for something.
pub(crate) fn start_with(
    state: &AppState,
    job: &Job,
    replay: cameo_host::Replay,
) -> Result<(), String> {
    let host = state.jobs.host().map_err(|err| err.message)?;
    let mut spec = parse_spec(&job.spec).map_err(|err| err.message)?;
    spec.name = toml::Spanned::new(0..0, job.id.clone());
    spec.tenant = job.tenant.clone();
    let mut loaded: BTreeMap<String, OperatorModule> = BTreeMap::new();
    for (reference, pinned) in &job.modules {
        let (_, version) = state
            .modules
            .resolve(&state.store, &job.tenant, pinned)
            .map_err(|reason| format!("module {reason}"))?;
        let module = state
            .modules
            .load_version(host.engine(), pinned, &version)?;
        loaded.insert(reference.clone(), module);
    }
    let mut plan = JobPlan::with_modules(&spec, |reference| {
        loaded
            .get(reference)
            .cloned()
            .map(ModuleSource::Loaded)
            .ok_or_else(|| "was not resolved when the job was submitted".to_string())
    })
    .map_err(|err| err.to_string())?;
    let letters = dead_letters_path(state, &job.id);
    if let Some(dir) = letters.parent() {
        std::fs::create_dir_all(dir)
            .map_err(|err| format!("could not make {}: {err}", dir.display()))?;
    }
    plan.set_dead_letter(letters);
    let pins = upgrade::apply_records(state, &host, job, &mut plan)?;
    if !replay.is_none() {
        plan.replay(replay).map_err(|err| err.to_string())?;
    }
    let handle = host.submit_plan(&plan).map_err(|err| err.to_string())?;
    let job = &upgrade::reconcile(state, job.clone(), &handle.monitor(), &pins);
    let inlets: BTreeMap<String, Inlet> = spec
        .sources
        .iter()
        .filter_map(|s| {
            let name = s.name.get_ref();
            handle
                .inlet(name)
                .map(|inlet| (name.clone(), inlet.clone()))
        })
        .collect();
    let instances = instances_of(&spec);
    let operators = spec
        .operators
        .iter()
        .map(|o| {
            let name = o.name.get_ref();
            (name.clone(), job.module_of(name, o.module.get_ref()))
        })
        .collect();
    let cancelled = Arc::new(AtomicBool::new(false));
    let paused = Arc::new(AtomicBool::new(false));
    let monitor = handle.monitor();
    let mut running = lock(&state.jobs.running);
    let waiter = {
        let state = Arc::clone(state);
        let id = job.id.clone();
        let cancelled = Arc::clone(&cancelled);
        let paused = Arc::clone(&paused);
        let inlets = inlets.clone();
        std::thread::Builder::new()
            .name(format!("cameo-job-{id}"))
            .spawn(move || {
                let result = handle.wait();
                for inlet in inlets.values() {
                    inlet.stop();
                }
                let how = if paused.load(Ordering::Acquire) {
                    Stopped::Paused
                } else if cancelled.load(Ordering::Acquire) {
                    Stopped::Cancelled
                } else {
                    Stopped::Itself
                };
                finished(&state, &id, result, how);
            })
            .map_err(|err| format!("could not start a thread for the job: {err}"))?
    };
    running.insert(
        job.id.clone(),
        Running {
            tenant: job.tenant.clone(),
            monitor,
            inlets,
            modules: job.modules.values().chain(pins.values()).cloned().collect(),
            operators,
            instances,
            cancelled,
            paused,
            waiter: Some(waiter),
        },
    );
    drop(running);
    shadow::restart_recorded(state, job);
    Ok(())
}

/// Who stopped a job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stopped {
    /// It ended or failed, or the server stopped it.
    Itself,
    /// A user cancelled it.
    Cancelled,
    /// A user paused it.
    Paused,
}

/// Records how job `id` ended, unless the server is stopping (then it resumes next start).
fn finished(
    state: &AppState,
    id: &str,
    result: Result<cameo_host::JobOutcome, JobError>,
    how: Stopped,
) {
    let stopping = state.jobs.stopping.load(Ordering::Acquire);
    let monitor = lock(&state.jobs.running).get(id).map(|r| r.monitor.clone());
    let summary = monitor.as_ref().map(JobMonitor::summary);
    if let Some(monitor) = &monitor {
        shadow::forget_stopped(state, id, monitor);
    }
    // Recorded before it leaves the running jobs, so a request that no longer finds it
    // running reads how it stopped.
    record_end(state, id, result, how, summary, stopping);
    if !stopping {
        lock(&state.jobs.running).remove(id);
    }
}

/// Records how job `id` stopped (see [`finished`]).
fn record_end(
    state: &AppState,
    id: &str,
    result: Result<cameo_host::JobOutcome, JobError>,
    how: Stopped,
    summary: Option<cameo_host::JobSummary>,
    stopping: bool,
) {
    let cancelled = how == Stopped::Cancelled;
    if stopping && !cancelled && matches!(result, Err(JobError::Cancelled { .. })) {
        return;
    }
    let mut job = match state.store.job(id) {
        Ok(Some(job)) => job,
        Ok(None) => return,
        Err(err) => {
            tracing::error!("job {id} ended but could not be recorded: {err}");
            return;
        }
    };
    match result {
        Err(JobError::Cancelled { .. }) if how == Stopped::Paused => {
            job.state = JobState::Paused;
            job.summary = summary.and_then(|s| serde_json::to_value(s).ok());
        }
        Ok(outcome) => {
            job.state = JobState::Finished;
            job.summary = serde_json::to_value(&outcome.summary).ok();
        }
        Err(JobError::Cancelled { .. }) => {
            job.state = JobState::Cancelled;
            job.summary = summary.and_then(|s| serde_json::to_value(s).ok());
            if let Ok(host) = state.jobs.host()
                && let Err(err) = host.remove_job_data(id)
            {
                tracing::warn!("the data of cancelled job {id} was not removed: {err}");
            }
        }
        Err(err) => {
            job.state = JobState::Failed;
            job.error = Some(err.to_string());
            job.summary = summary.and_then(|s| serde_json::to_value(s).ok());
        }
    }
    if let Err(err) = state.store.put_job(&job) {
        tracing::error!("job {id} ended but could not be recorded: {err}");
    }
}

/// Resumes every job that was running when the server stopped.
pub fn resume_all(state: &AppState) {
    let jobs = match state.store.jobs() {
        Ok(jobs) => jobs,
        Err(err) => {
            tracing::error!("jobs could not be resumed: {err}");
            return;
        }
    };
    for mut job in jobs.into_iter().filter(|j| j.state == JobState::Running) {
        if let Err(reason) = start(state, &job) {
            tracing::warn!(job = %job.id, "could not be resumed: {reason}");
            job.state = JobState::Failed;
            job.error = Some(format!("could not be resumed after a restart: {reason}"));
            if let Err(err) = state.store.put_job(&job) {
                tracing::error!("{err}");
            }
        }
    }
}

/// Pushes `text` into http source `source` of job `id` of `who`'s tenant; ends the source
/// after it when `end`.
pub fn send(
    state: &AppState,
    who: &Principal,
    id: &str,
    source: &str,
    text: &[u8],
    end: bool,
) -> Result<u64, ApiError> {
    tenant_job(state, who, id)?;
    let paused = || {
        ApiError::conflict(format!(
            "job {id} is paused; resume it (`cameo job resume {id}`) and send again \
             (nothing of this request was taken)"
        ))
    };
    let no_source = || {
        ApiError::not_found(format!(
            "job {id} has no http source \"{source}\"; its spec names the sources"
        ))
    };
    let inlet = match state.jobs.inlet(id, source) {
        InletLookup::Open(inlet) => inlet,
        InletLookup::Pausing => return Err(paused()),
        InletLookup::NoSuchSource => return Err(no_source()),
        // Read again: a job leaves the running jobs only once its end is recorded.
        InletLookup::NotRunning => {
            let job = tenant_job(state, who, id)?;
            return Err(match job.state {
                JobState::Paused => paused(),
                JobState::Running => no_source(),
                other => ApiError::conflict(format!(
                    "job {id} is {}; it takes no more events",
                    state_name(other)
                )),
            });
        }
    };
    let tenant = state
        .store
        .tenant(&who.tenant)?
        .ok_or_else(|| ApiError::unauthorized("this token's tenant no longer exists"))?;
    let (events, bytes) = (lines_in(text), text.len() as u64);
    state
        .ingest
        .take(&who.tenant, &tenant.quotas, events, bytes)?;
    let pushed = inlet.push(text);
    if pushed.is_err() {
        state.ingest.give_back(&who.tenant, events, bytes);
    }
    let taken = pushed.map_err(|err| match err {
        InletError::Full { .. } => ApiError::too_many(err.to_string(), Some(1)),
        InletError::Closed => ApiError::conflict(format!(
            "source \"{source}\" of job {id} was ended; it takes no more events"
        )),
        InletError::Io { .. } => ApiError::internal(err.to_string()),
    })?;
    if end {
        inlet
            .close()
            .map_err(|err| ApiError::internal(err.to_string()))?;
    }
    Ok(taken)
}

/// Job `id` if it belongs to `who`'s tenant (404 otherwise, whether or not it exists).
pub fn tenant_job(state: &AppState, who: &Principal, id: &str) -> Result<Job, ApiError> {
    state
        .store
        .job(id)?
        .filter(|job| job.tenant == who.tenant)
        .ok_or_else(|| {
            ApiError::not_found(format!(
                "there is no job {id}; `cameo job list` shows your jobs"
            ))
        })
}

/// A job state's name.
pub fn state_name(state: JobState) -> &'static str {
    match state {
        JobState::Running => "running",
        JobState::Finished => "finished",
        JobState::Cancelled => "cancelled",
        JobState::Failed => "failed",
        JobState::Paused => "paused",
    }
}

/// The dead letters of job `id`: beside its http sinks' outputs, under a name no sink's
/// file can have (a sink's name never makes a leading dot).
pub fn dead_letters_path(state: &AppState, id: &str) -> PathBuf {
    outlets_dir(state, id).join(".dead-letters.ndjson")
}

/// Where job `id`'s outputs are kept.
fn outlets_dir(state: &AppState, id: &str) -> PathBuf {
    state.config.data_dir.join("host").join("outlets").join(id)
}

/// The output file of http sink `sink` of job `id`.
pub fn outlet_path(state: &AppState, id: &str, sink: &str) -> PathBuf {
    let safe: String = sink
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    outlets_dir(state, id).join(format!("{safe}.ndjson"))
}
