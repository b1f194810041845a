//! Replaying a job's input from an earlier position: sources that can rewind (files, and
//! the on-disk input of http sources) start from a line number or an event time the user
//! gives, on any start of the job (the first, or a resume from a checkpoint), instead of where
//! the checkpoint left them.
//!
//! A replay moves only where the sources read: the job's state is what the start gives it
//! (empty, or the checkpoint's), and the sinks go on from where they stand, so replayed input
//! is processed again on top of that state.

use super::plan::{JobPlan, SourceInput};

/// Where rewindable sources start reading.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Replay {
    /// Skip this many lines of input, then read on (0: from the first line).
    pub from_offset: Option<u64>,
    /// Leave out events whose event time (ms since the Unix epoch) is before this.
    pub from_time: Option<i64>,
}

impl Replay {
    /// True when the replay changes nothing.
    pub fn is_none(&self) -> bool {
        self.from_offset.is_none() && self.from_time.is_none()
    }
}

/// Why a replay cannot be done.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ReplayError {
    /// No source of the job can rewind.
    #[error(
        "the job has no source that can rewind (sources of kind \"file\" or \"http\"); a \
         replay needs one"
    )]
    NothingToRewind,
    /// A replay by event time, and a source whose events have none.
    #[error(
        "source \"{name}\" has no event_time_field, so its events carry the time they were \
         read, not one to replay from; give it an event_time_field, or replay with \
         --from-offset"
    )]
    NoEventTime {
        /// The source.
        name: String,
    },
}

impl JobPlan {
    /// Makes every source that can rewind (files, http input) start at `replay`, on this
    /// start of the job; returns their names. Sources that cannot (standard input,
    /// generators) start as they would have.
    pub fn replay(&mut self, replay: Replay) -> Result<Vec<String>, ReplayError> {
        let mut rewound = Vec::new();
        for source in &mut self.sources {
            let options = match &source.input {
                SourceInput::File { options, .. } | SourceInput::Http { options } => options,
                SourceInput::Stdin { .. } | SourceInput::Generator(_) => continue,
            };
            if replay.from_time.is_some() && options.event_time_field.is_none() {
                return Err(ReplayError::NoEventTime {
                    name: source.name.clone(),
                });
            }
            source.replay = replay;
            rewound.push(source.name.clone());
        }
        if rewound.is_empty() {
            return Err(ReplayError::NothingToRewind);
        }
        Ok(rewound)
    }
}
