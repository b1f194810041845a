//! Resuming a job from its newest intact checkpoint, and opening outputs at the positions
//! that checkpoint recorded.

use std::collections::{BTreeSet, HashMap};
use std::fs::OpenOptions;
use std::io::{Seek, SeekFrom};
use std::path::Path;

use super::JobError;
use super::plan::JobPlan;
use crate::registry::OperatorModule;
use crate::state::checkpoint::{Checkpoint, CheckpointStore, SinkPosition};

/// Where a run starts: the checkpoint it resumes from, if any.
pub struct Recovery {
    /// The job's checkpoint files.
    pub store: CheckpointStore,
    /// The newest intact checkpoint.
    pub checkpoint: Option<Checkpoint>,
    /// The largest checkpoint id on disk, intact or not (new ones are numbered after it).
    pub last_id: u64,
}

impl Recovery {
    /// Finds the newest intact checkpoint of job `job` under `data_dir`, reporting each damaged
    /// newer one and falling back past it.
    pub fn find(job: &str, data_dir: &Path) -> Result<Self, JobError> {
        let store = CheckpointStore::new(data_dir, job);
        let last_id = store
            .ids()
            .map_err(JobError::Checkpoint)?
            .first()
            .copied()
            .unwrap_or(0);
        let (checkpoint, problems) = store.latest().map_err(JobError::Checkpoint)?;
        for problem in &problems {
            tracing::error!("{problem}; falling back to the checkpoint before it");
        }
        if !problems.is_empty() && checkpoint.is_none() {
            tracing::error!("no intact checkpoint is left; the job starts from the beginning");
        }
        if let Some(checkpoint) = &checkpoint {
            tracing::info!(id = checkpoint.id, "resuming from checkpoint");
        }
        Ok(Recovery {
            store,
            checkpoint,
            last_id,
        })
    }

    /// Puts in `modules` (by operator name) the module each operator ran when the checkpoint
    /// was taken, when it is not the plan's own: one of the versions the plan offers for it
    /// (it was upgraded or rolled back while it ran). A checkpoint that names a module the
    /// plan does not offer, or two modules for one operator, is refused.
    pub(super) fn resume_modules(
        &self,
        plan: &JobPlan,
        modules: &mut HashMap<String, OperatorModule>,
    ) -> Result<(), JobError> {
        let Some(checkpoint) = &self.checkpoint else {
            return Ok(());
        };
        let refuse = |reason: String| JobError::Restore {
            id: checkpoint.id,
            reason,
            dir: self.store.dir().display().to_string(),
        };
        for operator in &plan.operators {
            let ran: BTreeSet<&str> = (0..operator.parallelism)
                .filter_map(|i| checkpoint.actors.get(&operator.instance_label(i)))
                .filter_map(|snapshot| snapshot.module.as_deref())
                .collect();
            let name = match ran.len() {
                // Taken before modules were recorded: the plan's own module.
                0 => continue,
                1 => ran.first().copied().unwrap_or_default(),
                _ => {
                    return Err(refuse(format!(
                        "the instances of operator \"{}\" ran different modules in it ({})",
                        operator.name,
                        ran.into_iter().collect::<Vec<_>>().join(", ")
                    )));
                }
            };
            if modules
                .get(&operator.name)
                .is_some_and(|m| m.name() == name)
            {
                continue;
            }
            let Some(version) = operator.versions.iter().find(|m| m.name() == name) else {
                let current = modules
                    .get(&operator.name)
                    .map_or("another module", |m| m.name());
                return Err(refuse(format!(
                    "operator \"{}\" ran {name} when it was taken, and the job was given \
                     {current} and no {name} to resume it on",
                    operator.name
                )));
            };
            if let Some(reason) =
                version.missing_export(operator.window.is_some(), operator.join.is_some())
            {
                return Err(refuse(reason));
            }
            modules.insert(operator.name.clone(), version.clone());
        }
        Ok(())
    }

    /// Input `source` had consumed at the checkpoint.
    pub fn source_offset(&self, source: &str) -> u64 {
        self.checkpoint
            .as_ref()
            .and_then(|c| c.sources.get(source).copied())
            .unwrap_or(0)
    }

    /// Where sink `sink` stood at the checkpoint.
    pub fn sink_position(&self, sink: &str) -> SinkPosition {
        self.checkpoint
            .as_ref()
            .and_then(|c| c.sinks.get(sink).copied())
            .unwrap_or_default()
    }
}

/// Opens a file sink's output: created fresh, or when resuming, cut back to the length it had
/// at the checkpoint so that replayed output is not written twice.
pub fn open_file_output(path: &Path, resume_at: Option<u64>) -> std::io::Result<std::fs::File> {
    match resume_at {
        None => std::fs::File::create(path),
        Some(bytes) => {
            let mut file = OpenOptions::new()
                .create(true)
                .truncate(false)
                .write(true)
                .open(path)?;
            file.set_len(bytes)?;
            file.seek(SeekFrom::End(0))?;
            Ok(file)
        }
    }
}
