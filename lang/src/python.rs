//! Python: componentize-py (which bundles CPython) builds the module `app` of the staged
//! project, with `cameo.py` beside it, against the operator world (or the windowed-operator
//! world when the module exports host-managed windows).

use std::process::Command;

use crate::BuildError;
use crate::project::Project;
use crate::sdk;
use crate::tools::{self, Tool};

/// Builds the Python project staged in `project.stage` against `world`.
pub(crate) fn build(
    project: &Project,
    componentize_py: &Tool,
    world: &str,
) -> Result<(), BuildError> {
    let mut command = Command::new(&componentize_py.path);
    command
        .current_dir(&project.stage)
        .arg("-d")
        .arg(sdk::WIT_PATH)
        .args(["-w", world, "componentize", "app", "-p", ".", "-o"])
        .arg(&project.component)
        // A virtualenv of the caller must not leak its packages into the component.
        .env_remove("VIRTUAL_ENV");
    tools::run(componentize_py.toolchain, &mut command)
}
