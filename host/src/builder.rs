//! Building operator sources into components (`cameo operator build`). Rust crates are built
//! with cargo for the `wasm32-wasip2` target, which outputs a component directly.

use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The target Rust operators are built for.
pub const RUST_TARGET: &str = "wasm32-wasip2";

/// Why an operator could not be built.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// No operator project in the directory.
    #[error(
        "{dir} holds no operator project (no Cargo.toml); run `cameo operator build` in an \
         operator's directory or pass its path"
    )]
    NotAProject {
        /// The directory.
        dir: String,
    },
    /// cargo could not be started.
    #[error("could not run cargo to build {dir}: {source}; is a Rust toolchain installed?")]
    Spawn {
        /// The directory.
        dir: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The target is not installed.
    #[error(
        "the {RUST_TARGET} target is not installed for this toolchain; run `rustup target add \
         {RUST_TARGET}` (or `rustup toolchain install` in a repository that pins it) and build again"
    )]
    MissingTarget,
    /// cargo failed.
    #[error("building {dir} failed (cargo exited with {status}); see the compiler output above")]
    Failed {
        /// The directory.
        dir: String,
        /// cargo's exit status.
        status: String,
    },
    /// cargo succeeded but produced no component.
    #[error(
        "building {dir} produced no .wasm component; the crate needs `crate-type = [\"cdylib\"]` \
         under [lib] in its Cargo.toml"
    )]
    NoArtifact {
        /// The directory.
        dir: String,
    },
}

/// True when `dir` looks like a Rust operator crate.
pub fn is_rust_project(dir: &Path) -> bool {
    dir.join("Cargo.toml").is_file()
}

/// Builds the Rust operator crate in `dir` in release mode and returns the component's path.
/// cargo's own progress and diagnostics go to stderr.
pub fn build_rust(dir: &Path) -> Result<PathBuf, BuildError> {
    let shown = dir.display().to_string();
    if !is_rust_project(dir) {
        return Err(BuildError::NotAProject { dir: shown });
    }
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    // Run in the crate's directory, as `cargo build` there would: cargo reads configuration
    // (such as `.cargo/config.toml` with the target features guests are built with) from the
    // directory it runs in, not from the manifest's.
    let run_in = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    let mut child = Command::new(cargo)
        .current_dir(run_in)
        .args(["build", "--release", "--target", RUST_TARGET])
        .arg("--message-format=json-render-diagnostics")
        .arg("--manifest-path")
        .arg("Cargo.toml")
        // Flags meant for the host build must not leak into the guest build.
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_BUILD_TARGET")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|source| BuildError::Spawn {
            dir: shown.clone(),
            source,
        })?;
    // Relay stderr (progress and diagnostics) while remembering whether the target is missing.
    let stderr = child.stderr.take();
    let relay = std::thread::spawn(move || {
        let mut missing_target = false;
        if let Some(stderr) = stderr {
            for line in std::io::BufReader::new(stderr)
                .lines()
                .map_while(Result::ok)
            {
                if line.contains("target may not be installed")
                    || line.contains("can't find crate for `core`")
                    || line.contains("can't find crate for `std`")
                {
                    missing_target = true;
                }
                eprintln!("{line}");
            }
        }
        missing_target
    });
    let mut artifact = None;
    if let Some(stdout) = child.stdout.take() {
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            if let Some(path) = wasm_artifact(&line) {
                artifact = Some(path);
            }
        }
    }
    let status = child.wait().map_err(|source| BuildError::Spawn {
        dir: shown.clone(),
        source,
    })?;
    let missing_target = relay.join().unwrap_or(false);
    if !status.success() {
        if missing_target {
            return Err(BuildError::MissingTarget);
        }
        return Err(BuildError::Failed {
            dir: shown,
            status: status.to_string(),
        });
    }
    artifact.ok_or(BuildError::NoArtifact { dir: shown })
}

/// The `.wasm` file named by one line of cargo's JSON messages, if it is a compiler artifact.
fn wasm_artifact(line: &str) -> Option<PathBuf> {
    let message: serde_json::Value = serde_json::from_str(line).ok()?;
    if message.get("reason")?.as_str()? != "compiler-artifact" {
        return None;
    }
    message
        .get("filenames")?
        .as_array()?
        .iter()
        .filter_map(serde_json::Value::as_str)
        .find(|name| name.ends_with(".wasm"))
        .map(PathBuf::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wasm_artifact_is_found_in_cargo_messages() {
        let line = r#"{"reason":"compiler-artifact","filenames":["/t/release/deps/x.d","/t/release/x.wasm"]}"#;
        assert_eq!(
            wasm_artifact(line),
            Some(PathBuf::from("/t/release/x.wasm"))
        );
        assert_eq!(wasm_artifact(r#"{"reason":"build-finished"}"#), None);
        assert_eq!(wasm_artifact("not json"), None);
    }
}
