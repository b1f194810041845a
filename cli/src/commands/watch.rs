//! `cameo operator build --watch`: noticing that a project's sources changed, by polling.
//!
//! A snapshot holds a hash of every file's content, so a change is seen whatever the file
//! system's timestamps say, and a save that writes the same bytes rebuilds nothing. Build
//! output (`target/`), dependencies (`node_modules/`) and hidden files are not sources.

use std::collections::BTreeMap;
use std::hash::Hasher as _;
use std::path::{Path, PathBuf};

/// Directories whose files are never sources.
const SKIPPED_DIRS: [&str; 2] = ["target", "node_modules"];

/// Files looked at, at most: a directory bigger than this is not an operator project.
const MAX_FILES: usize = 10_000;

/// The content of a project's sources at one moment.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Snapshot {
    /// Each file, relative to the project, with a hash of its content.
    files: BTreeMap<PathBuf, u64>,
}

impl Snapshot {
    /// The sources under `dir` now.
    pub fn of(dir: &Path) -> std::io::Result<Snapshot> {
        let mut files = BTreeMap::new();
        let mut pending = vec![dir.to_path_buf()];
        while let Some(current) = pending.pop() {
            for entry in std::fs::read_dir(&current)? {
                let entry = entry?;
                let name = entry.file_name();
                let name = name.to_string_lossy();
                if name.starts_with('.') {
                    continue;
                }
                let path = entry.path();
                let kind = entry.file_type()?;
                if kind.is_dir() {
                    if !SKIPPED_DIRS.contains(&name.as_ref()) {
                        pending.push(path);
                    }
                } else if kind.is_file() {
                    if files.len() >= MAX_FILES {
                        return Err(std::io::Error::other(format!(
                            "{} holds more than {MAX_FILES} files: watch an operator project",
                            dir.display()
                        )));
                    }
                    // A file removed between listing and reading is simply not there.
                    let Ok(content) = std::fs::read(&path) else {
                        continue;
                    };
                    let mut hasher = std::collections::hash_map::DefaultHasher::new();
                    hasher.write(&content);
                    let relative = path.strip_prefix(dir).unwrap_or(&path).to_path_buf();
                    files.insert(relative, hasher.finish());
                }
            }
        }
        Ok(Snapshot { files })
    }

    /// The files added, removed or changed since `before`, in path order.
    pub fn changes_since(&self, before: &Snapshot) -> Vec<PathBuf> {
        let mut changed: Vec<PathBuf> = self
            .files
            .iter()
            .filter(|(path, hash)| before.files.get(*path) != Some(hash))
            .map(|(path, _)| path.clone())
            .chain(
                before
                    .files
                    .keys()
                    .filter(|path| !self.files.contains_key(*path))
                    .cloned(),
            )
            .collect();
        changed.sort();
        changed
    }
}

/// Builds with `build` now and again after every change under `dir`, looking every `poll`;
/// returns only when the project cannot be read. A failed build is reported and watching goes
/// on.
pub fn watch(
    dir: &Path,
    poll: std::time::Duration,
    mut build: impl FnMut() -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let mut seen = Snapshot::of(dir)?;
    let report = |result: anyhow::Result<()>| {
        if let Err(err) = result {
            eprintln!("build failed: {err:#}");
        }
    };
    report(build());
    eprintln!("watching {} for changes (Ctrl-C to stop)", dir.display());
    loop {
        std::thread::sleep(poll);
        let now = Snapshot::of(dir)?;
        let changed = now.changes_since(&seen);
        if changed.is_empty() {
            continue;
        }
        let names: Vec<String> = changed.iter().map(|p| p.display().to_string()).collect();
        eprintln!("changed: {}; building", names.join(", "));
        seen = now;
        report(build());
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn edits_additions_and_removals_are_changes_and_build_output_is_not() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::write(root.join("app.py"), "a = 1\n").unwrap();
        std::fs::create_dir_all(root.join("lib")).unwrap();
        std::fs::write(root.join("lib/util.py"), "b = 2\n").unwrap();
        let first = Snapshot::of(root).unwrap();
        assert!(Snapshot::of(root).unwrap().changes_since(&first).is_empty());

        std::fs::create_dir_all(root.join("target")).unwrap();
        std::fs::write(root.join("target/app.wasm"), "built").unwrap();
        std::fs::create_dir_all(root.join("node_modules/x")).unwrap();
        std::fs::write(root.join("node_modules/x/index.js"), "").unwrap();
        std::fs::write(root.join(".app.py.swp"), "editor").unwrap();
        std::fs::write(root.join("app.py"), "a = 1\n").unwrap();
        assert!(
            Snapshot::of(root).unwrap().changes_since(&first).is_empty(),
            "output, dependencies, hidden files and same-content saves are not changes"
        );

        std::fs::write(root.join("app.py"), "a = 3\n").unwrap();
        std::fs::write(root.join("new.py"), "").unwrap();
        std::fs::remove_file(root.join("lib/util.py")).unwrap();
        assert_eq!(
            Snapshot::of(root).unwrap().changes_since(&first),
            [
                PathBuf::from("app.py"),
                PathBuf::from("lib/util.py"),
                PathBuf::from("new.py")
            ]
        );
    }

    #[test]
    fn a_missing_project_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        assert!(Snapshot::of(&dir.path().join("gone")).is_err());
    }
}
