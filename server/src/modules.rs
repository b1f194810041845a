//! The module registry: components validated exactly as `cameo run` validates them, stored
//! by sha256, recorded as immutable versions `name@N`, compiled once (the compiled code is
//! cached on disk and kept loaded in memory) and resolved for jobs.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use cameo_host::{OperatorEngine, OperatorModule};
use sha2::{Digest as _, Sha256};

use crate::auth::Principal;
use crate::error::ApiError;
use crate::store::{Module, Store, Version, now_ms};

/// Longest module name.
const MAX_NAME: usize = 64;

/// The registry's files and what it has loaded.
pub struct Registry {
    /// Component bytes, one file per sha256.
    blobs: PathBuf,
    /// The compiled-code cache.
    compiled: PathBuf,
    /// Modules loaded so far, by sha256.
    loaded: Mutex<HashMap<String, OperatorModule>>,
    /// Serialises changes to the registry's records (concurrent pushes of one module).
    changes: tokio::sync::Mutex<()>,
}

/// What a push came to.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Pushed {
    /// The module's name.
    pub name: String,
    /// The version the bytes are stored as.
    #[serde(flatten)]
    pub version: Version,
    /// True when these bytes were already stored as that version.
    pub existing: bool,
}

/// Checks a module name: letters, digits, `-` and `_`, at most 64 characters.
pub fn check_name(name: &str) -> Result<(), ApiError> {
    let ok = !name.is_empty()
        && name.len() <= MAX_NAME
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if ok {
        Ok(())
    } else {
        Err(ApiError::bad_request(format!(
            "`{name}` is not a module name; use 1 to {MAX_NAME} letters, digits, `-` or `_`"
        )))
    }
}

/// The hex sha256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The operator interfaces `module` exports, by short name.
fn exports_of(module: &OperatorModule) -> Vec<String> {
    let mut exports = vec!["handler".to_string()];
    if module.windowed().is_some() {
        exports.push("windowed".into());
    }
    if module.joiner().is_some() {
        exports.push("joiner".into());
    }
    exports
}

/// A module reference as a job spec writes it: `name` (the newest version) or `name@N`.
pub fn parse_reference(reference: &str) -> Result<(String, Option<u64>), String> {
    if reference.contains('/') || reference.contains('\\') || reference.ends_with(".wasm") {
        return Err(format!(
            "\"{reference}\" is a local path, and a server runs only modules pushed to it: \
             push it with `cameo module push NAME {reference}` and name it as NAME or NAME@N"
        ));
    }
    let (name, version) = match reference.split_once('@') {
        Some((name, version)) => match version.parse::<u64>() {
            Ok(version) if version > 0 => (name, Some(version)),
            _ => {
                return Err(format!(
                    "\"{reference}\" has no version number after `@`; write NAME@N, e.g. {name}@1"
                ));
            }
        },
        None => (reference, None),
    };
    check_name(name).map_err(|err| err.message)?;
    Ok((name.to_string(), version))
}

impl Registry {
    /// The registry kept under `data_dir`.
    pub fn new(data_dir: &Path) -> Self {
        Registry {
            blobs: data_dir.join("modules"),
            compiled: data_dir.join("compiled"),
            loaded: Mutex::new(HashMap::new()),
            changes: tokio::sync::Mutex::new(()),
        }
    }

    fn blob(&self, sha256: &str) -> PathBuf {
        self.blobs.join(format!("{sha256}.wasm"))
    }

    /// Loads (or finds loaded) the component `bytes`, called `name` in errors.
    fn load(
        &self,
        engine: &OperatorEngine,
        name: &str,
        sha256: &str,
        bytes: &[u8],
    ) -> Result<OperatorModule, cameo_host::LoadError> {
        if let Some(module) = self.lock_loaded().get(sha256) {
            return Ok(module.clone());
        }
        let module = OperatorModule::load_cached(engine, name, bytes, &self.compiled)?;
        self.lock_loaded()
            .insert(sha256.to_string(), module.clone());
        Ok(module)
    }

    fn lock_loaded(&self) -> std::sync::MutexGuard<'_, HashMap<String, OperatorModule>> {
        self.loaded
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Validates `bytes` as an operator, then stores them as the next version of `name` for
    /// `who`'s tenant, or finds the version that already holds them.
    pub async fn push(
        &self,
        store: &Store,
        engine: OperatorEngine,
        who: &Principal,
        name: &str,
        bytes: Vec<u8>,
        quotas: crate::store::Quotas,
    ) -> Result<Pushed, ApiError> {
        check_name(name)?;
        let sha256 = sha256_hex(&bytes);
        let size = bytes.len() as u64;
        // Validate and compile before anything is stored: a refused module leaves nothing.
        let (module, bytes) = {
            let name = format!("{name}.wasm");
            let sha256 = sha256.clone();
            let registry_loaded = self.compiled.clone();
            let already = self.lock_loaded().get(&sha256).cloned();
            tokio::task::spawn_blocking(move || {
                let module = match already {
                    Some(module) => Ok(module),
                    None => OperatorModule::load_cached(&engine, &name, &bytes, &registry_loaded),
                };
                (module, bytes)
            })
            .await
            .map_err(|err| ApiError::internal(format!("validating the module failed: {err}")))?
        };
        let module = module.map_err(|err| ApiError::unprocessable(err.to_string()))?;
        self.lock_loaded().insert(sha256.clone(), module.clone());
        let _changing = self.changes.lock().await;
        let mut record = store.module(&who.tenant, name)?.unwrap_or(Module {
            name: name.to_string(),
            versions: Vec::new(),
            next_version: 1,
        });
        if let Some(version) = record.versions.iter().find(|v| v.sha256 == sha256) {
            return Ok(Pushed {
                name: name.to_string(),
                version: version.clone(),
                existing: true,
            });
        }
        let held = store.modules(&who.tenant)?;
        if record.versions.is_empty() && held.len() as u64 >= quotas.modules {
            return Err(ApiError::forbidden(format!(
                "tenant \"{}\" holds {} modules, its quota is {}; remove one with `cameo module rm` \
                 or ask the server's admin for a larger quota",
                who.tenant,
                held.len(),
                quotas.modules
            )));
        }
        let stored: u64 = held.iter().flat_map(|m| &m.versions).map(|v| v.size).sum();
        if stored + size > quotas.bytes {
            return Err(ApiError::forbidden(format!(
                "tenant \"{}\" stores {stored} bytes of modules and this one has {size}, over its \
                 quota of {} bytes; remove old versions with `cameo module rm NAME@N` or ask the \
                 server's admin for a larger quota",
                who.tenant, quotas.bytes
            )));
        }
        write_blob(&self.blobs, &self.blob(&sha256), &bytes)
            .map_err(|err| ApiError::internal(format!("could not store the module: {err}")))?;
        let version = Version {
            version: record.next_version,
            sha256,
            size,
            exports: exports_of(&module),
            uploader: format!("{} ({})", who.tenant, who.role.name()),
            uploaded_ms: now_ms(),
        };
        record.next_version += 1;
        record.versions.push(version.clone());
        store.put_module(&who.tenant, &record)?;
        Ok(Pushed {
            name: name.to_string(),
            version,
            existing: false,
        })
    }

    /// Finds `reference` (`name` or `name@N`) among `tenant`'s modules: its pinned
    /// `name@N` and the version.
    pub fn resolve(
        &self,
        store: &Store,
        tenant: &str,
        reference: &str,
    ) -> Result<(String, Version), String> {
        let (name, version) = parse_reference(reference)?;
        let module = store
            .module(tenant, &name)
            .map_err(|err| err.to_string())?
            .filter(|m| !m.versions.is_empty())
            .ok_or_else(|| {
                format!(
                    "there is no module \"{name}\"; push it with `cameo module push {name} FILE`"
                )
            })?;
        let found = match version {
            None => module.versions.last(),
            Some(n) => module.versions.iter().find(|v| v.version == n),
        };
        match found {
            Some(v) => Ok((format!("{name}@{}", v.version), v.clone())),
            None => Err(format!(
                "module \"{name}\" has no version {}; it has {}",
                version.unwrap_or(0),
                module
                    .versions
                    .iter()
                    .map(|v| format!("{name}@{}", v.version))
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
        }
    }

    /// Loads version `version` (stored bytes) on `engine`, named `pinned` (`name@N`).
    pub fn load_version(
        &self,
        engine: &OperatorEngine,
        pinned: &str,
        version: &Version,
    ) -> Result<OperatorModule, String> {
        // Named by its version, which is how checkpoints and upgrades tell versions apart
        // (the same bytes may be loaded under another name).
        if let Some(module) = self.lock_loaded().get(&version.sha256) {
            return Ok(module.clone().named(pinned));
        }
        let bytes = std::fs::read(self.blob(&version.sha256))
            .map_err(|err| format!("the stored component of {pinned} could not be read: {err}"))?;
        if sha256_hex(&bytes) != version.sha256 {
            return Err(format!(
                "the stored component of {pinned} is damaged (its sha256 changed); push it again"
            ));
        }
        self.load(engine, pinned, &version.sha256, &bytes)
            .map(|module| module.named(pinned))
            .map_err(|err| err.to_string())
    }

    /// Removes version `version` of `name` (every version when `None`) of `tenant`, unless
    /// `in_use` says a running job uses one. Component files no version refers to any more
    /// are removed too.
    pub async fn remove(
        &self,
        store: &Store,
        tenant: &str,
        name: &str,
        version: Option<u64>,
        in_use: impl Fn(&str) -> Option<String>,
    ) -> Result<Vec<u64>, ApiError> {
        let _changing = self.changes.lock().await;
        let not_found = || {
            ApiError::not_found(format!(
                "there is no module \"{name}\"; `cameo module list` shows yours"
            ))
        };
        let mut record = store.module(tenant, name)?.ok_or_else(not_found)?;
        let doomed: Vec<Version> = record
            .versions
            .iter()
            .filter(|v| version.is_none_or(|n| v.version == n))
            .cloned()
            .collect();
        if doomed.is_empty() {
            return Err(ApiError::not_found(format!(
                "module \"{name}\" has no version {}; `cameo module show {name}` lists them",
                version.unwrap_or(0)
            )));
        }
        for v in &doomed {
            let pinned = format!("{name}@{}", v.version);
            if let Some(job) = in_use(&pinned) {
                return Err(ApiError::conflict(format!(
                    "{pinned} is used by running job {job}; cancel the job first \
                     (`cameo job cancel {job}`)"
                )));
            }
        }
        record
            .versions
            .retain(|v| !doomed.iter().any(|d| d.version == v.version));
        if record.versions.is_empty() {
            store.remove_module(tenant, name)?;
        } else {
            store.put_module(tenant, &record)?;
        }
        let all: Vec<Module> = store
            .tenants()?
            .iter()
            .map(|t| store.modules(&t.name))
            .collect::<Result<Vec<_>, _>>()?
            .into_iter()
            .flatten()
            .collect();
        for v in &doomed {
            let still_used = all
                .iter()
                .flat_map(|m| &m.versions)
                .any(|other| other.sha256 == v.sha256);
            if !still_used {
                let _ = std::fs::remove_file(self.blob(&v.sha256));
                self.lock_loaded().remove(&v.sha256);
            }
        }
        Ok(doomed.iter().map(|v| v.version).collect())
    }
}

/// Writes a component file through a temporary file renamed over it.
fn write_blob(dir: &Path, path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write as _;
    std::fs::create_dir_all(dir)?;
    if path.exists() {
        return Ok(());
    }
    let temp = dir.join(format!(".upload-{}-{}", std::process::id(), now_ms()));
    let mut file = std::fs::File::create(&temp)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    drop(file);
    std::fs::rename(&temp, path)
}
