//! The checkpoint files of a job: one redb file per checkpoint, the newest few kept.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use redb::{ReadableDatabase, ReadableTable, TableDefinition};
use serde::{Deserialize, Serialize};
use xxhash_rust::xxh3::xxh3_64;

use super::{ActorSnapshot, Checkpoint, CheckpointError, SinkPosition};

/// Completed checkpoints kept per job; older ones are deleted.
pub(crate) const KEPT_CHECKPOINTS: usize = 3;

const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");
const ACTORS: TableDefinition<&str, &[u8]> = TableDefinition::new("actors");
/// The module each actor ran at the barrier, by actor label (absent from older files).
const MODULES: TableDefinition<&str, &str> = TableDefinition::new("modules");
/// The module version whose state each actor still had to convert, by actor label.
const CONVERTING: TableDefinition<&str, &str> = TableDefinition::new("converting");

#[derive(Debug, Serialize, Deserialize)]
struct CheckpointMeta {
    id: u64,
    job: String,
    sources: BTreeMap<String, u64>,
    sinks: BTreeMap<String, SinkPosition>,
    actors: usize,
}

/// The checkpoint files of one job: `<data dir>/checkpoints/<job>/chk-<id>.redb`.
#[derive(Debug, Clone)]
pub struct CheckpointStore {
    dir: PathBuf,
    job: String,
}

fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>, String> {
    let body = postcard::to_stdvec(value).map_err(|e| e.to_string())?;
    let mut out = xxh3_64(&body).to_le_bytes().to_vec();
    out.extend_from_slice(&body);
    Ok(out)
}

fn decode<T: for<'de> Deserialize<'de>>(bytes: &[u8]) -> Result<T, String> {
    let (sum, body) = bytes
        .split_at_checked(8)
        .ok_or_else(|| "a record is shorter than its checksum".to_string())?;
    let expected = u64::from_le_bytes(sum.try_into().map_err(|_| "bad checksum".to_string())?);
    if xxh3_64(body) != expected {
        return Err("a record's checksum does not match its contents".into());
    }
    postcard::from_bytes(body).map_err(|e| format!("a record does not decode: {e}"))
}

impl CheckpointStore {
    /// The checkpoints of `job` under `data_dir`.
    pub fn new(data_dir: &Path, job: &str) -> Self {
        let safe: String = job
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        CheckpointStore {
            dir: data_dir.join("checkpoints").join(safe),
            job: job.to_string(),
        }
    }

    /// The directory holding the files.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn io(&self, path: &Path) -> impl Fn(std::io::Error) -> CheckpointError {
        let path = path.display().to_string();
        move |source| CheckpointError::Io {
            path: path.clone(),
            source,
        }
    }

    fn file(&self, id: u64) -> PathBuf {
        self.dir.join(format!("chk-{id:010}.redb"))
    }

    /// Checkpoint ids on disk, newest first.
    pub fn ids(&self) -> Result<Vec<u64>, CheckpointError> {
        let entries = match std::fs::read_dir(&self.dir) {
            Ok(entries) => entries,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(err) => return Err(self.io(&self.dir)(err)),
        };
        let mut ids: Vec<u64> = entries
            .filter_map(Result::ok)
            .filter_map(|entry| {
                let name = entry.file_name().into_string().ok()?;
                name.strip_prefix("chk-")?
                    .strip_suffix(".redb")?
                    .parse()
                    .ok()
            })
            .collect();
        ids.sort_unstable_by(|a, b| b.cmp(a));
        Ok(ids)
    }

    /// Writes a complete checkpoint (atomically: a temporary file renamed into place), then
    /// deletes all but the newest few. Returns the bytes written.
    pub fn write(&self, checkpoint: &Checkpoint) -> Result<u64, CheckpointError> {
        std::fs::create_dir_all(&self.dir).map_err(self.io(&self.dir))?;
        let path = self.file(checkpoint.id);
        let tmp = path.with_extension("redb.tmp");
        let db_error = |reason: String| CheckpointError::Database {
            path: tmp.display().to_string(),
            reason,
        };
        let _ = std::fs::remove_file(&tmp);
        {
            let db = redb::Database::create(&tmp).map_err(|e| db_error(e.to_string()))?;
            let txn = db.begin_write().map_err(|e| db_error(e.to_string()))?;
            {
                let mut meta = txn.open_table(META).map_err(|e| db_error(e.to_string()))?;
                let record = encode(&CheckpointMeta {
                    id: checkpoint.id,
                    job: self.job.clone(),
                    sources: checkpoint.sources.clone(),
                    sinks: checkpoint.sinks.clone(),
                    actors: checkpoint.actors.len(),
                })
                .map_err(db_error)?;
                meta.insert("checkpoint", record.as_slice())
                    .map_err(|e| db_error(e.to_string()))?;
                let mut actors = txn
                    .open_table(ACTORS)
                    .map_err(|e| db_error(e.to_string()))?;
                let mut modules = txn
                    .open_table(MODULES)
                    .map_err(|e| db_error(e.to_string()))?;
                let mut converting = txn
                    .open_table(CONVERTING)
                    .map_err(|e| db_error(e.to_string()))?;
                for (label, snapshot) in &checkpoint.actors {
                    let record = encode(snapshot).map_err(db_error)?;
                    actors
                        .insert(label.as_str(), record.as_slice())
                        .map_err(|e| db_error(e.to_string()))?;
                    if let Some(module) = &snapshot.module {
                        modules
                            .insert(label.as_str(), module.as_str())
                            .map_err(|e| db_error(e.to_string()))?;
                    }
                    if let Some(from) = &snapshot.converting_from {
                        converting
                            .insert(label.as_str(), from.as_str())
                            .map_err(|e| db_error(e.to_string()))?;
                    }
                }
            }
            txn.commit().map_err(|e| db_error(e.to_string()))?;
        }
        std::fs::rename(&tmp, &path).map_err(self.io(&path))?;
        let bytes = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
        for old in self.ids()?.into_iter().skip(KEPT_CHECKPOINTS) {
            let _ = std::fs::remove_file(self.file(old));
        }
        Ok(bytes)
    }

    /// Reads checkpoint `id` back, verifying every record.
    pub fn read(&self, id: u64) -> Result<Checkpoint, CheckpointError> {
        let path = self.file(id);
        let shown = path.display().to_string();
        let damaged = |reason: String| CheckpointError::Damaged {
            path: shown.clone(),
            reason,
        };
        let db = redb::ReadOnlyDatabase::open(&path).map_err(|e| damaged(e.to_string()))?;
        let txn = db.begin_read().map_err(|e| damaged(e.to_string()))?;
        let meta_table = txn.open_table(META).map_err(|e| damaged(e.to_string()))?;
        let meta_bytes = meta_table
            .get("checkpoint")
            .map_err(|e| damaged(e.to_string()))?
            .ok_or_else(|| damaged("it has no checkpoint record".into()))?;
        let meta: CheckpointMeta = decode(meta_bytes.value()).map_err(&damaged)?;
        if meta.job != self.job || meta.id != id {
            return Err(damaged(format!(
                "it holds checkpoint {} of job \"{}\"",
                meta.id, meta.job
            )));
        }
        let actors_table = txn.open_table(ACTORS).map_err(|e| damaged(e.to_string()))?;
        let mut actors = BTreeMap::new();
        for entry in actors_table.iter().map_err(|e| damaged(e.to_string()))? {
            let (label, record) = entry.map_err(|e| damaged(e.to_string()))?;
            let snapshot: ActorSnapshot = decode(record.value()).map_err(&damaged)?;
            actors.insert(label.value().to_string(), snapshot);
        }
        match txn.open_table(MODULES) {
            Ok(modules) => {
                for entry in modules.iter().map_err(|e| damaged(e.to_string()))? {
                    let (label, module) = entry.map_err(|e| damaged(e.to_string()))?;
                    if let Some(snapshot) = actors.get_mut(label.value()) {
                        snapshot.module = Some(module.value().to_string());
                    }
                }
            }
            // Written before modules were recorded: the job's own modules apply.
            Err(redb::TableError::TableDoesNotExist(_)) => {}
            Err(err) => return Err(damaged(err.to_string())),
        }
        match txn.open_table(CONVERTING) {
            Ok(converting) => {
                for entry in converting.iter().map_err(|e| damaged(e.to_string()))? {
                    let (label, from) = entry.map_err(|e| damaged(e.to_string()))?;
                    if let Some(snapshot) = actors.get_mut(label.value()) {
                        snapshot.converting_from = Some(from.value().to_string());
                    }
                }
            }
            Err(redb::TableError::TableDoesNotExist(_)) => {}
            Err(err) => return Err(damaged(err.to_string())),
        }
        if actors.len() != meta.actors {
            return Err(damaged(format!(
                "it lists {} actors but holds {}",
                meta.actors,
                actors.len()
            )));
        }
        Ok(Checkpoint {
            id,
            sources: meta.sources,
            sinks: meta.sinks,
            actors,
        })
    }

    /// The newest checkpoint that reads back intact; each damaged newer one is returned in
    /// the list of problems (to report), and skipped.
    pub fn latest(&self) -> Result<(Option<Checkpoint>, Vec<CheckpointError>), CheckpointError> {
        let mut problems = Vec::new();
        for id in self.ids()? {
            match self.read(id) {
                Ok(checkpoint) => return Ok((Some(checkpoint), problems)),
                Err(err) => problems.push(err),
            }
        }
        Ok((None, problems))
    }

    /// Deletes every checkpoint of the job (after it completed).
    pub fn clear(&self) -> Result<(), CheckpointError> {
        match std::fs::remove_dir_all(&self.dir) {
            Ok(()) => Ok(()),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(err) => Err(self.io(&self.dir)(err)),
        }
    }
}
