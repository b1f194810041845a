//! A job's sources: each becomes a timed task of the executor, with its input (a file, stdin
//! or a generator) and the edges to its consumers.

use std::io::{BufRead, BufReader};
use std::sync::Arc;
use std::time::Duration;

use super::JobError;
use super::recovery::Recovery;
use crate::dataflow::dead_letter::DeadLetters;
use crate::dataflow::generator::{Generator, GeneratorSpec};
use crate::dataflow::lines::Lines;
use crate::dataflow::router::{Edge, Router};
use crate::dataflow::sink::Completion;
use crate::dataflow::source::{Source, SourceTask};
use crate::dataflow::spec::{JobSpec, SourceKind};
use crate::metrics::JobMetrics;
use crate::sched::TaskId;
use crate::sched::executor::{Activator, Executor};
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
}

/// Registers every source of `spec` as a timed task, not yet armed, with the edges
/// `take_edges` gives for its name; returns their task ids in order.
pub(super) fn register(
    spec: &JobSpec,
    setup: &SourceSetup,
    mut take_edges: impl FnMut(&str) -> Vec<Edge>,
) -> Result<Vec<TaskId>, JobError> {
    // Sources send the watermark that closes one of these ahead of the events past its end.
    let windows: Vec<WindowDef> = spec
        .operators
        .iter()
        .filter_map(|operator| operator.window.as_ref().and_then(|w| w.to_def().ok()))
        .collect();
    let mut tasks = Vec::new();
    for source_spec in &spec.sources {
        let name = source_spec.name().get_ref().clone();
        let edges = take_edges(&name);
        let skip = setup.recovery.map(|r| r.source_offset(&name)).unwrap_or(0);
        if skip > 0 && *source_spec.kind.get_ref() == SourceKind::Stdin {
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
            latency_target: setup.latency_target,
            idle_timeout: source_spec
                .idle_timeout_ms
                .as_ref()
                .map(|ms| Duration::from_millis(*ms.get_ref())),
            rate: source_spec.rate.as_ref().map_or(0.0, |r| *r.get_ref()),
            watermark_delay_ms: i64::try_from(source_spec.watermark_delay_ms).unwrap_or(i64::MAX),
            windows: windows.clone(),
        };
        let task = setup.executor.next_task_id();
        let lines = |reader: Box<dyn BufRead + Send>| {
            Lines::spawn(
                &name,
                reader,
                source_spec.line_options(),
                task,
                setup.activator.clone(),
            )
            .map_err(JobError::Thread)
        };
        let added = match source_spec.kind.get_ref() {
            SourceKind::File => {
                let path = spec.resolve(source_spec.path.as_ref().map_or("", |p| p.get_ref()));
                let file = std::fs::File::open(&path).map_err(|source| JobError::Open {
                    what: "source",
                    name: name.clone(),
                    path: path.display().to_string(),
                    source,
                })?;
                let input = lines(Box::new(BufReader::new(file)))?;
                setup
                    .executor
                    .add_timed(Box::new(SourceTask::new(source, input, task)))
            }
            SourceKind::Stdin => {
                let input = lines(Box::new(BufReader::new(std::io::stdin())))?;
                setup
                    .executor
                    .add_timed(Box::new(SourceTask::new(source, input, task)))
            }
            SourceKind::Generator => {
                let input = Generator::new(GeneratorSpec {
                    count: source_spec.count.as_ref().map_or(0, |c| *c.get_ref()),
                    keys: source_spec.keys.as_ref().map_or(100, |k| *k.get_ref()),
                    payload_bytes: source_spec
                        .payload_bytes
                        .as_ref()
                        .map_or(0, |p| *p.get_ref()),
                    seed: source_spec.seed.as_ref().map_or(0, |s| *s.get_ref()),
                });
                setup
                    .executor
                    .add_timed(Box::new(SourceTask::new(source, input, task)))
            }
        };
        debug_assert_eq!(added, task);
        tasks.push(added);
    }
    Ok(tasks)
}
