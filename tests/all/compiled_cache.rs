//! The compiled-code cache: a second load comes from the cache, and a damaged entry is
//! compiled again, never trusted.

use std::path::{Path, PathBuf};

use cameo_host::{Limits, OperatorEngine, OperatorModule};
use cameo_tests::guests;

fn engine() -> OperatorEngine {
    OperatorEngine::new(Limits::default()).unwrap()
}

/// The cache's files with extension `ext`.
fn entries(dir: &Path, ext: &str) -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == ext))
        .collect();
    found.sort();
    found
}

#[test]
fn a_cached_module_loads_from_its_entry_and_runs_the_same() {
    let engine = engine();
    let cache = tempfile::tempdir().unwrap();
    let bytes = std::fs::read(guests::WINDOW_AGG).unwrap();
    let first = OperatorModule::load_cached(&engine, "w.wasm", &bytes, cache.path()).unwrap();
    let code = entries(cache.path(), "cwasm");
    assert_eq!(code.len(), 1, "one entry per component and engine");
    let written = std::fs::metadata(&code[0]).unwrap().modified().unwrap();
    let second = OperatorModule::load_cached(&engine, "w.wasm", &bytes, cache.path()).unwrap();
    assert_eq!(
        std::fs::metadata(&code[0]).unwrap().modified().unwrap(),
        written,
        "the second load read the entry and did not write it again"
    );
    assert!(first.windowed().is_some() && second.windowed().is_some());
    assert!(second.is_for(&engine));
}

#[test]
fn a_truncated_or_altered_entry_is_compiled_again() {
    let engine = engine();
    let cache = tempfile::tempdir().unwrap();
    let bytes = std::fs::read(guests::FILTER).unwrap();
    OperatorModule::load_cached(&engine, "f.wasm", &bytes, cache.path()).unwrap();
    let code = entries(cache.path(), "cwasm").remove(0);
    let full = std::fs::read(&code).unwrap();
    std::fs::write(&code, &full[..full.len() / 2]).unwrap();
    OperatorModule::load_cached(&engine, "f.wasm", &bytes, cache.path()).unwrap();
    assert_eq!(
        std::fs::read(&code).unwrap(),
        full,
        "the truncated entry was replaced by a fresh compile"
    );
    // Altered code with a matching length, and a hash file that lies about garbage.
    let mut altered = full.clone();
    let middle = altered.len() / 2;
    altered[middle] ^= 0xff;
    std::fs::write(&code, &altered).unwrap();
    OperatorModule::load_cached(&engine, "f.wasm", &bytes, cache.path()).unwrap();
    assert_eq!(std::fs::read(&code).unwrap(), full);
    let hash = entries(cache.path(), "sha256").remove(0);
    std::fs::write(&hash, "0".repeat(64)).unwrap();
    OperatorModule::load_cached(&engine, "f.wasm", &bytes, cache.path()).unwrap();
    assert_ne!(std::fs::read_to_string(&hash).unwrap(), "0".repeat(64));
}

#[test]
fn the_cache_refuses_what_loading_refuses_and_keeps_nothing() {
    let engine = engine();
    let cache = tempfile::tempdir().unwrap();
    let err = OperatorModule::load_cached(&engine, "x.wasm", b"hello", cache.path()).unwrap_err();
    assert_eq!(
        err.to_string(),
        OperatorModule::load_bytes(&engine, "x.wasm", b"hello")
            .unwrap_err()
            .to_string()
    );
    assert!(entries(cache.path(), "cwasm").is_empty());
}
