//! A job's sources: each becomes a timed task of the executor, with its input (a file, stdin
//! or a generator) and the edges to its consumers.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::sync::Arc;
use std::time::Duration;

use super::JobError;
use super::plan::{JobPlan, SourceInput};
use super::recovery::Recovery;
use crate::dataflow::dead_letter::DeadLetters;
use crate::dataflow::router::{Edge, Router};
use crate::dataflow::sink::Completion;
use crate::dataflow::source::generator::{Generator, GeneratorSpec};
use crate::dataflow::source::http::Inlet;
use crate::dataflow::source::lines::Lines;
use crate::dataflow::source::{Source, SourceTask};
use crate::dataflow::spec::LineOptions;
use crate::metrics::JobMetrics;
use crate::sched::TaskId;
use crate::sched::executor::{Activator, Executor};
use crate::sched::timers::TimedTask;
use crate::state::checkpoint::Checkpointer;
use crate::time::window::WindowDef;

/// What the sources of one job share.
pub(super) struct SourceSetup<'a> {
    /// Where the sources run.
    pub executor: &'a Executor,
    /// Makes the receiving actors runnable.
    pub activator: &'a Activator,
    /// The job's metrics.
    pub metrics: &'a Arc<JobMetrics>,
    /// Input that cannot become events goes here.
    pub dead_letters: &'a Arc<DeadLetters>,
    /// The job's completion (ends the sources when it failed).
    pub completion: &'a Arc<Completion>,
    /// The checkpoint coordinator, when the job takes checkpoints.
    pub checkpointer: Option<&'a Arc<Checkpointer>>,
    /// Where a resumed run restarts each source.
    pub recovery: Option<&'a Recovery>,
    /// The job's latency target.
    pub latency_target: Duration,
    /// Events per send.
    pub chunk: usize,
    /// The windows of the job's operators (sources send the watermark that closes one ahead
    /// of the events past its end).
    pub windows: Vec<WindowDef>,
    /// The inlets of the job's http sources, by source name.
    pub inlets: &'a BTreeMap<String, Inlet>,
}

/// A source's input, opened.
enum Opened<'a> {
    /// Lines of a file, stdin or an inlet, and the lines before the first one read.
    Lines(Box<dyn BufRead + Send>, &'a LineOptions, u64),
    /// Generated events.
    Generator(&'a GeneratorSpec),
}

/// Registers every source of `plan` as a timed task, not yet armed, with the edges
/// `take_edges` gives for its name; returns their task ids in order.
pub(super) fn register(
    plan: &JobPlan,
    setup: &SourceSetup,
    mut take_edges: impl FnMut(&str) -> Vec<Edge>,
) -> Result<Vec<TaskId>, JobError> {
    let mut tasks = Vec::new();
    for source_plan in &plan.sources {
        let name = source_plan.name.clone();
        let edges = take_edges(&name);
        let skip = match source_plan.replay.from_offset {
            Some(offset) => offset,
            None => setup.recovery.map(|r| r.source_offset(&name)).unwrap_or(0),
        };
        if skip > 0 && matches!(source_plan.input, SourceInput::Stdin { .. }) {
            tracing::warn!(
                source = %name,
                "standard input cannot be rewound: the {skip} lines before the checkpoint are \
                 not replayed, new input continues from here"
            );
        }
        let source = Source {
            name: name.clone(),
            router: Router::new(edges, 0, 1),
            chunk: setup.chunk,
            metrics: Arc::clone(setup.metrics),
            dead_letters: Arc::clone(setup.dead_letters),
            completion: Arc::clone(setup.completion),
            activator: setup.activator.clone(),
            checkpointer: setup.checkpointer.cloned(),
            skip,
            from_time: source_plan.replay.from_time,
            latency_target: setup.latency_target,
            idle_timeout: source_plan.idle_timeout,
            rate: source_plan.rate,
            watermark_delay_ms: source_plan.watermark_delay_ms,
            windows: setup.windows.clone(),
        };
        // Lines are read by a thread that wakes the source's task: the reader starts once the
        // task has its id.
        let opened = match &source_plan.input {
            SourceInput::File { path, options } => {
                let file = std::fs::File::open(path).map_err(|source| JobError::Open {
                    what: "source",
                    name: name.clone(),
                    path: path.display().to_string(),
                    source,
                })?;
                Opened::Lines(Box::new(BufReader::new(file)), options, 0)
            }
            SourceInput::Stdin { options } => {
                Opened::Lines(Box::new(BufReader::new(std::io::stdin())), options, 0)
            }
            SourceInput::Generator(spec) => Opened::Generator(spec),
            SourceInput::Http { options } => match setup.inlets.get(&name).map(Inlet::follow) {
                Some((follow, before)) => {
                    Opened::Lines(Box::new(BufReader::new(follow)), options, before)
                }
                None => return Err(JobError::NoDataDir { name: name.clone() }),
            },
        };
        let task = setup.executor.add_timed_with(|task| {
            let timed: Box<dyn TimedTask> = match opened {
                Opened::Lines(reader, options, before) => {
                    let input = Lines::spawn(
                        &name,
                        reader,
                        options.clone(),
                        task,
                        setup.activator.clone(),
                    )
                    .map_err(JobError::Thread)?
                    .numbered_after(before);
                    Box::new(SourceTask::new(source, input, task))
                }
                Opened::Generator(spec) => {
                    Box::new(SourceTask::new(source, Generator::new(spec.clone()), task))
                }
            };
            Ok::<_, JobError>(timed)
        })?;
        tasks.push(task);
    }
    Ok(tasks)
}
