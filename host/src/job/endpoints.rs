//! Where a job's http sources and sinks keep their data, under the host's data directory:
//! one inlet per http source (`inlets/<job>/<source>.ndjson` and its later segments) and one NDJSON output per
//! http sink (`outlets/<job>/<sink>.ndjson`), both kept across restarts so a resumed job
//! replays its input and cuts its output back to the checkpoint.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use super::JobError;
use super::plan::{JobPlan, SinkTarget, SourceInput};
use crate::dataflow::outlet::Outlet;
use crate::dataflow::source::http::Inlet;
use crate::state::checkpoint::ReleaseHook;
use crate::sync::LockRecovered;

/// A job name as a directory name: characters other than letters, digits, `-` and `_`
/// become `_` (as for checkpoints).
fn dir_name(job: &str) -> String {
    job.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// The directories holding job `job`'s data under `data_dir`: checkpoints, inlets, outlets.
pub(super) fn job_dirs(data_dir: &Path, job: &str) -> [PathBuf; 3] {
    let name = dir_name(job);
    ["checkpoints", "inlets", "outlets"].map(|kind| data_dir.join(kind).join(&name))
}

/// A job's http endpoints.
#[derive(Default)]
pub(super) struct Endpoints {
    /// Inlets by source name.
    pub inlets: BTreeMap<String, Inlet>,
    /// Output files by sink name.
    pub outlets: BTreeMap<String, PathBuf>,
}

/// Opens the inlets (holding at most `capacity` unread bytes, in segments of
/// `segment_bytes`) and names the outputs of `plan`'s http sources and sinks.
pub(super) fn open(
    plan: &JobPlan,
    data_dir: Option<&Path>,
    (capacity, segment_bytes): (u64, u64),
) -> Result<Endpoints, JobError> {
    let mut endpoints = Endpoints::default();
    let [_, inlets, outlets] = match data_dir {
        Some(dir) => job_dirs(dir, &plan.name),
        None => {
            let http = plan
                .sources
                .iter()
                .filter(|s| matches!(s.input, SourceInput::Http { .. }))
                .map(|s| &s.name)
                .chain(
                    plan.sinks
                        .iter()
                        .filter(|s| s.target == SinkTarget::Http)
                        .map(|s| &s.name),
                )
                .next();
            return match http {
                Some(name) => Err(JobError::NoDataDir { name: name.clone() }),
                None => Ok(endpoints),
            };
        }
    };
    for source in &plan.sources {
        if matches!(source.input, SourceInput::Http { .. }) {
            let path = inlets.join(format!("{}.ndjson", dir_name(&source.name)));
            let inlet =
                Inlet::open_with(&path, capacity, segment_bytes).map_err(|err| JobError::Open {
                    what: "source",
                    name: source.name.clone(),
                    path: path.display().to_string(),
                    source: err,
                })?;
            endpoints.inlets.insert(source.name.clone(), inlet);
        }
    }
    for sink in &plan.sinks {
        if sink.target == SinkTarget::Http {
            std::fs::create_dir_all(&outlets).map_err(|err| JobError::Open {
                what: "sink",
                name: sink.name.clone(),
                path: outlets.display().to_string(),
                source: err,
            })?;
            let path = outlets.join(format!("{}.ndjson", dir_name(&sink.name)));
            endpoints.outlets.insert(sink.name.clone(), path);
        }
    }
    Ok(endpoints)
}

/// The http sinks' outputs once opened, by sink name, shared with the checkpoint
/// coordinator's release hook.
#[derive(Clone, Default)]
pub(super) struct OpenedOutlets(Arc<Mutex<BTreeMap<String, Outlet>>>);

impl OpenedOutlets {
    /// Adds sink `sink`'s output.
    pub fn insert(&self, sink: String, outlet: Outlet) {
        self.0.lock_recovered().insert(sink, outlet);
    }
}

/// What the checkpoint coordinator calls once no kept checkpoint needs the input and output
/// before its oldest one's positions: the inlets and outlets delete their segments wholly
/// before them.
pub(super) fn release_hook(inlets: BTreeMap<String, Inlet>, outlets: OpenedOutlets) -> ReleaseHook {
    Box::new(move |offsets, positions| {
        for (source, inlet) in &inlets {
            if let Some(&line) = offsets.get(source) {
                inlet.release(line);
            }
        }
        for (sink, outlet) in outlets.0.lock_recovered().iter() {
            if let Some(position) = positions.get(sink) {
                outlet.release(position.bytes);
            }
        }
    })
}
