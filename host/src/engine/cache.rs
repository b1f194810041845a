//! The compiled-code cache: components compiled once, kept as files, and loaded again without
//! compiling, across jobs and restarts.
//!
//! An entry is keyed by the sha256 of the component's bytes and the engine's compatibility
//! hash (wasmtime version, target, and every setting that changes the code), so code compiled
//! for another engine is never looked up. Beside each entry is the sha256 of its content:
//! an entry is loaded only when its content still has that hash, so a truncated or damaged
//! file is compiled again instead of trusted. Files are written to a temporary name and
//! renamed, so a reader never sees half an entry.

use std::hash::{Hash as _, Hasher as _};
use std::path::{Path, PathBuf};

use sha2::{Digest as _, Sha256};
use wasmtime::component::Component;

use super::OperatorEngine;

/// The hex sha256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    let mut text = String::with_capacity(64);
    for byte in digest {
        text.push_str(&format!("{byte:02x}"));
    }
    text
}

/// A directory of compiled components.
#[derive(Debug, Clone)]
pub struct CompiledCache {
    dir: PathBuf,
}

impl CompiledCache {
    /// The cache kept in `dir` (created when the first entry is written).
    pub fn new(dir: &Path) -> Self {
        CompiledCache {
            dir: dir.to_path_buf(),
        }
    }

    /// The entry of `bytes` compiled by `engine`: its file and its content hash file.
    fn entry(&self, engine: &OperatorEngine, bytes: &[u8]) -> (PathBuf, PathBuf) {
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        engine
            .engine()
            .precompile_compatibility_hash()
            .hash(&mut hasher);
        let name = format!("{}-{:016x}", sha256_hex(bytes), hasher.finish());
        (
            self.dir.join(format!("{name}.cwasm")),
            self.dir.join(format!("{name}.sha256")),
        )
    }

    /// The component compiled from `bytes` by `engine` earlier, if the cache holds an intact
    /// entry for it; a missing, damaged or incompatible entry is `None` (compile instead).
    pub fn get(&self, engine: &OperatorEngine, bytes: &[u8]) -> Option<Component> {
        let (code_path, hash_path) = self.entry(engine, bytes);
        let code = std::fs::read(&code_path).ok()?;
        let expected = std::fs::read_to_string(&hash_path).ok()?;
        if sha256_hex(&code) != expected.trim() {
            tracing::warn!(
                target: crate::registry::CACHE_LOG_TARGET,
                file = %code_path.display(),
                "compiled code does not match its hash; compiling again"
            );
            return None;
        }
        match deserialize(engine, &code) {
            Ok(component) => Some(component),
            Err(err) => {
                tracing::warn!(
                    target: crate::registry::CACHE_LOG_TARGET,
                    file = %code_path.display(),
                    "compiled code could not be loaded ({err:#}); compiling again"
                );
                None
            }
        }
    }

    /// Keeps `component`, compiled from `bytes` by `engine`.
    pub fn put(
        &self,
        engine: &OperatorEngine,
        bytes: &[u8],
        component: &Component,
    ) -> std::io::Result<()> {
        let code = component
            .serialize()
            .map_err(|err| std::io::Error::other(format!("{err:#}")))?;
        std::fs::create_dir_all(&self.dir)?;
        let (code_path, hash_path) = self.entry(engine, bytes);
        write_atomically(&hash_path, sha256_hex(&code).as_bytes())?;
        write_atomically(&code_path, &code)
    }
}

/// Writes `bytes` to `path` through a temporary file renamed over it.
fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write as _;
    let mut temp = path.as_os_str().to_owned();
    temp.push(format!(".tmp{}", std::process::id()));
    let temp = PathBuf::from(temp);
    let mut file = std::fs::File::create(&temp)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    drop(file);
    std::fs::rename(&temp, path)
}

/// Loads compiled code this cache wrote.
#[allow(unsafe_code)]
fn deserialize(engine: &OperatorEngine, code: &[u8]) -> wasmtime::Result<Component> {
    // SAFETY: wasmtime runs deserialized code as is, so it must be code wasmtime compiled.
    // `code` is only ever read from this cache's own directory, from a file that
    // `CompiledCache::put` wrote from `Component::serialize`, and only after its content was
    // checked against the sha256 written beside it, so a truncated or altered file never gets
    // here; wasmtime itself refuses code from another version or engine configuration.
    unsafe { Component::deserialize(engine.engine(), code) }
}
