//! Resuming a job from its newest intact checkpoint, and opening outputs at the positions
//! that checkpoint recorded.

use std::fs::OpenOptions;
use std::io::{Seek, SeekFrom};
use std::path::Path;

use super::JobError;
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
