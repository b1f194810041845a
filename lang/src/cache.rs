//! Skipping a build whose inputs (sources, SDK, WIT, toolchain, build recipe) are unchanged: a stamp file
//! beside the component holds a hash of them.

use std::path::{Path, PathBuf};

use crate::project::{Input, Language};
use crate::{BuildError, Tool};

/// The hash of everything that goes into a build, as hex.
pub(crate) fn key(language: Language, tool: &Tool, recipe: &str, inputs: &[Input]) -> String {
    let mut hasher = xxhash_rust::xxh3::Xxh3::new();
    hasher.update(language.name().as_bytes());
    hasher.update(recipe.as_bytes());
    hasher.update(tool.path.as_os_str().as_encoded_bytes());
    hasher.update(tool.version.as_bytes());
    for input in inputs {
        hasher.update(&(input.name.len() as u64).to_le_bytes());
        hasher.update(input.name.as_bytes());
        hasher.update(&(input.content.len() as u64).to_le_bytes());
        hasher.update(&input.content);
    }
    format!("{:032x}", hasher.digest128())
}

fn stamp(component: &Path) -> PathBuf {
    component.with_extension("wasm.inputs")
}

/// Whether `component` exists and was built from inputs with this `key`.
pub(crate) fn is_fresh(component: &Path, key: &str) -> bool {
    component.is_file() && std::fs::read_to_string(stamp(component)).is_ok_and(|s| s.trim() == key)
}

/// Records that `component` was built from inputs with this `key`.
pub(crate) fn mark_fresh(component: &Path, key: &str) -> Result<(), BuildError> {
    let path = stamp(component);
    std::fs::write(&path, key).map_err(|source| BuildError::io("cannot write", &path, source))
}
