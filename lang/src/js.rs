//! JavaScript: jco with its QuickJS backend builds the ES module `app.js` of the staged
//! project, with `cameo.js` beside it, against the operator world (or the windowed-operator
//! world when the module exports host-managed windows).
//!
//! jco is run from the staging directory with a bare entry name: given a path with a
//! directory it doubles the directory, and it refuses imports from outside the entry's folder.
//! The QuickJS backend is used synchronously (`--backend-qjs-disable-async`): the operator
//! world has no async functions.

use std::process::Command;

use crate::BuildError;
use crate::project::Project;
use crate::sdk;
use crate::tools::{self, Tool};

/// Builds the JavaScript project staged in `project.stage` against `world`.
pub(crate) fn build(project: &Project, jco: &Tool, world: &str) -> Result<(), BuildError> {
    let mut command = Command::new(&jco.path);
    command
        .current_dir(&project.stage)
        .args(["componentize", "app.js", "--wit"])
        .arg(sdk::WIT_PATH)
        .args([
            "--world-name",
            world,
            "--backend",
            "qjs",
            "--backend-qjs-disable-async",
            "-o",
        ])
        .arg(&project.component);
    tools::run(jco.toolchain, &mut command)
}
