//! The server's persistent state in one redb database in the data directory: tenants, tokens
//! (by the sha256 of the token, never the token), modules with their versions, and jobs.
//! Records are JSON values under string keys; every change is one transaction.

use std::collections::BTreeMap;
use std::path::Path;

use redb::{Database, ReadableDatabase as _, ReadableTable as _, TableDefinition};
use serde::{Deserialize, Serialize, de::DeserializeOwned};

use crate::auth::Role;

const TENANTS: TableDefinition<&str, &[u8]> = TableDefinition::new("tenants");
const TOKENS: TableDefinition<&str, &[u8]> = TableDefinition::new("tokens");
const MODULES: TableDefinition<&str, &[u8]> = TableDefinition::new("modules");
const JOBS: TableDefinition<&str, &[u8]> = TableDefinition::new("jobs");
const COUNTERS: TableDefinition<&str, u64> = TableDefinition::new("counters");

/// The database could not be read or written.
#[derive(Debug, thiserror::Error)]
#[error("the server's database {what}: {reason}")]
pub struct StoreError {
    what: &'static str,
    reason: String,
}

fn failed(what: &'static str) -> impl Fn(String) -> StoreError {
    move |reason| StoreError { what, reason }
}

macro_rules! db {
    ($what:literal, $e:expr) => {
        $e.map_err(|err| failed($what)(err.to_string()))
    };
}

/// What a tenant may hold and send at most. A record written before a quota existed gets
/// that quota's default.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(default)]
pub struct Quotas {
    /// Modules (names; every version of one counts once).
    pub modules: u64,
    /// Bytes of components stored, over all versions.
    pub bytes: u64,
    /// Jobs running at once.
    pub running_jobs: u64,
    /// Operator instances running at once, over all its jobs (an operator with
    /// `parallelism = N` runs N).
    pub instances: u64,
    /// Events per second sent to its jobs' http sources.
    pub events_per_s: u64,
    /// Bytes per second sent to its jobs' http sources.
    pub bytes_per_s: u64,
}

impl Default for Quotas {
    fn default() -> Self {
        Quotas {
            modules: 100,
            bytes: 1 << 30,
            running_jobs: 10,
            instances: 64,
            events_per_s: 1_000_000,
            bytes_per_s: 256 << 20,
        }
    }
}

/// A tenant.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Tenant {
    /// Its name.
    pub name: String,
    /// Milliseconds since the Unix epoch when it was created.
    pub created_ms: u64,
    /// What it may hold.
    pub quotas: Quotas,
}

/// A token, stored under the sha256 of its text.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Token {
    /// The tenant it acts for.
    pub tenant: String,
    /// What it may do.
    pub role: Role,
    /// When it was made.
    pub created_ms: u64,
}

/// One immutable version of a module.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Version {
    /// 1, 2, ...
    pub version: u64,
    /// The component's sha256 (hex).
    pub sha256: String,
    /// Its size in bytes.
    pub size: u64,
    /// The operator interfaces it exports: handler, and windowed and joiner if it has them.
    pub exports: Vec<String>,
    /// The tenant and role of the token that pushed it.
    pub uploader: String,
    /// When it was pushed, ms since the Unix epoch.
    pub uploaded_ms: u64,
}

/// A module: a name and its versions.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Module {
    /// The module's name.
    pub name: String,
    /// Its versions, oldest first (deleted ones are gone).
    pub versions: Vec<Version>,
    /// The number the next version gets (never reused).
    pub next_version: u64,
}

/// Where a job stands.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum JobState {
    /// Running (and resumed after a restart).
    Running,
    /// All its input was processed.
    Finished,
    /// Cancelled by a user.
    Cancelled,
    /// It could not start, or failed while running: see its error.
    Failed,
    /// Stopped at a checkpoint by a user; resumed from it on demand.
    Paused,
}

/// A submitted job.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Job {
    /// Its id (`j1`, `j2`, ...), also its name on the host.
    pub id: String,
    /// The tenant it runs for.
    pub tenant: String,
    /// The name its spec gives it.
    pub name: String,
    /// The spec as submitted, as TOML.
    pub spec: String,
    /// The module version each operator's `module` resolved to when it was submitted
    /// (`name` -> `name@N`): a resumed job runs the same code.
    pub modules: BTreeMap<String, String>,
    /// Where it stands.
    pub state: JobState,
    /// Why it failed.
    pub error: Option<String>,
    /// When it was submitted, ms since the Unix epoch.
    pub submitted_ms: u64,
    /// Its figures when it ended.
    pub summary: Option<serde_json::Value>,
    /// Operators whose module changed while the job ran (upgraded or rolled back), by
    /// operator name: the module each runs and how it came to. The others run their entry of
    /// `modules`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub operators: BTreeMap<String, OperatorModules>,
    /// Shadow runs started beside its operators and neither stopped nor promoted, by
    /// operator name: a resumed job starts them again.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub shadows: BTreeMap<String, ShadowRecord>,
}

impl Job {
    /// The module version (`name@N`) operator `operator`, whose spec names `reference`,
    /// runs.
    pub fn module_of(&self, operator: &str, reference: &str) -> String {
        match self.operators.get(operator) {
            Some(record) => record.module.clone(),
            None => self
                .modules
                .get(reference)
                .cloned()
                .unwrap_or_else(|| reference.to_string()),
        }
    }
}

/// The module an operator runs after changes, and its history.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct OperatorModules {
    /// The version it runs (`name@N`).
    pub module: String,
    /// The version it is switching to, until the checkpoint that carries the switch is
    /// written; a restart before then decides from the checkpoint it resumes from.
    #[serde(default)]
    pub pending: Option<String>,
    /// Every version it ran, oldest first: the submitted one, then each change.
    pub history: Vec<ModuleChange>,
}

/// A shadow run beside an operator, as recorded so that it outlives a restart of the job.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ShadowRecord {
    /// The version it runs (`name@N`).
    pub module: String,
    /// When it was first started, ms since the Unix epoch.
    pub started_ms: u64,
    /// The checkpoint at whose barrier it first took its copy of the state.
    pub checkpoint: u64,
    /// Each time the job resumed and the shadow was started again, oldest first.
    #[serde(default)]
    pub restarts: Vec<ShadowRestart>,
}

/// A shadow run started again when its job resumed: its comparisons start over from the
/// checkpoint the job resumed from.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ShadowRestart {
    /// When, ms since the Unix epoch.
    pub at_ms: u64,
    /// The checkpoint at whose barrier it took its new copy of the state.
    pub checkpoint: Option<u64>,
    /// Why it could not be started again, if it could not (the shadow then ended there).
    pub error: Option<String>,
}

/// One change of an operator's module.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ModuleChange {
    /// The version (`name@N`).
    pub module: String,
    /// `submitted`, `upgraded`, `rolled-back`, or `abandoned` (a switch the server stopped
    /// before its checkpoint was written: the operator went on with the version before).
    pub change: String,
    /// When, ms since the Unix epoch.
    pub at_ms: u64,
    /// The first checkpoint that names the version, when it was switched to while running.
    #[serde(default)]
    pub checkpoint: Option<u64>,
}

/// The database.
pub struct Store {
    db: Database,
}

fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>, StoreError> {
    serde_json::to_vec(value).map_err(|err| failed("could not encode a record")(err.to_string()))
}

fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, StoreError> {
    serde_json::from_slice(bytes).map_err(|err| failed("holds a damaged record")(err.to_string()))
}

/// The key of a tenant's module.
fn module_key(tenant: &str, name: &str) -> String {
    format!("{tenant}/{name}")
}

impl Store {
    /// Opens (or creates) the database at `path`.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        let db = db!("could not be opened", Database::create(path))?;
        let txn = db!("could not be written", db.begin_write())?;
        {
            db!("could not be written", txn.open_table(TENANTS))?;
            db!("could not be written", txn.open_table(TOKENS))?;
            db!("could not be written", txn.open_table(MODULES))?;
            db!("could not be written", txn.open_table(JOBS))?;
            db!("could not be written", txn.open_table(COUNTERS))?;
        }
        db!("could not be written", txn.commit())?;
        Ok(Store { db })
    }

    fn get<T: DeserializeOwned>(
        &self,
        table: TableDefinition<&str, &[u8]>,
        key: &str,
    ) -> Result<Option<T>, StoreError> {
        let txn = db!("could not be read", self.db.begin_read())?;
        let table = db!("could not be read", txn.open_table(table))?;
        match db!("could not be read", table.get(key))? {
            Some(value) => Ok(Some(decode(value.value())?)),
            None => Ok(None),
        }
    }

    fn put<T: Serialize>(
        &self,
        table: TableDefinition<&str, &[u8]>,
        key: &str,
        value: &T,
    ) -> Result<(), StoreError> {
        let bytes = encode(value)?;
        let txn = db!("could not be written", self.db.begin_write())?;
        {
            let mut table = db!("could not be written", txn.open_table(table))?;
            db!("could not be written", table.insert(key, bytes.as_slice()))?;
        }
        db!("could not be written", txn.commit())
    }

    fn remove(&self, table: TableDefinition<&str, &[u8]>, key: &str) -> Result<(), StoreError> {
        let txn = db!("could not be written", self.db.begin_write())?;
        {
            let mut table = db!("could not be written", txn.open_table(table))?;
            db!("could not be written", table.remove(key))?;
        }
        db!("could not be written", txn.commit())
    }

    fn all<T: DeserializeOwned>(
        &self,
        table: TableDefinition<&str, &[u8]>,
        prefix: &str,
    ) -> Result<Vec<T>, StoreError> {
        let txn = db!("could not be read", self.db.begin_read())?;
        let table = db!("could not be read", txn.open_table(table))?;
        let mut out = Vec::new();
        for entry in db!("could not be read", table.range(prefix..))? {
            let (key, value) = db!("could not be read", entry)?;
            if !key.value().starts_with(prefix) {
                break;
            }
            out.push(decode(value.value())?);
        }
        Ok(out)
    }

    /// The tenant `name`.
    pub fn tenant(&self, name: &str) -> Result<Option<Tenant>, StoreError> {
        self.get(TENANTS, name)
    }

    /// Every tenant.
    pub fn tenants(&self) -> Result<Vec<Tenant>, StoreError> {
        self.all(TENANTS, "")
    }

    /// Creates or replaces a tenant.
    pub fn put_tenant(&self, tenant: &Tenant) -> Result<(), StoreError> {
        self.put(TENANTS, &tenant.name, tenant)
    }

    /// The token whose sha256 is `hash`.
    pub fn token(&self, hash: &str) -> Result<Option<Token>, StoreError> {
        self.get(TOKENS, hash)
    }

    /// Keeps a token under the sha256 of its text.
    pub fn put_token(&self, hash: &str, token: &Token) -> Result<(), StoreError> {
        self.put(TOKENS, hash, token)
    }

    /// Module `name` of `tenant`.
    pub fn module(&self, tenant: &str, name: &str) -> Result<Option<Module>, StoreError> {
        self.get(MODULES, &module_key(tenant, name))
    }

    /// Every module of `tenant`.
    pub fn modules(&self, tenant: &str) -> Result<Vec<Module>, StoreError> {
        self.all(MODULES, &format!("{tenant}/"))
    }

    /// Creates or replaces module `module` of `tenant`.
    pub fn put_module(&self, tenant: &str, module: &Module) -> Result<(), StoreError> {
        self.put(MODULES, &module_key(tenant, &module.name), module)
    }

    /// Removes module `name` of `tenant`.
    pub fn remove_module(&self, tenant: &str, name: &str) -> Result<(), StoreError> {
        self.remove(MODULES, &module_key(tenant, name))
    }

    /// Job `id`.
    pub fn job(&self, id: &str) -> Result<Option<Job>, StoreError> {
        self.get(JOBS, id)
    }

    /// Every job.
    pub fn jobs(&self) -> Result<Vec<Job>, StoreError> {
        self.all(JOBS, "")
    }

    /// Creates or replaces a job.
    pub fn put_job(&self, job: &Job) -> Result<(), StoreError> {
        self.put(JOBS, &job.id, job)
    }

    /// The next number of counter `name` (1 first).
    pub fn next(&self, name: &str) -> Result<u64, StoreError> {
        let txn = db!("could not be written", self.db.begin_write())?;
        let next = {
            let mut table = db!("could not be written", txn.open_table(COUNTERS))?;
            let current = db!("could not be read", table.get(name))?.map_or(0, |v| v.value());
            db!("could not be written", table.insert(name, current + 1))?;
            current + 1
        };
        db!("could not be written", txn.commit())?;
        Ok(next)
    }
}

/// Milliseconds since the Unix epoch, now.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}
