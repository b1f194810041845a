//! Builds cameo operators written in Python, JavaScript and C into WebAssembly components
//! against the `cameo:operator` WIT package, so an author needs only their language's
//! compiler: the C bindings and the component step are done here, in Rust.
//!
//! ```no_run
//! let component = cameo_lang::build(std::path::Path::new("my-operator"), None)?;
//! println!("{}", component.display());
//! # Ok::<(), cameo_lang::BuildError>(())
//! ```
//!
//! A project is a directory: `Cargo.toml` makes it Rust (built by `cameo_host::build_rust`,
//! not here), `app.py` Python, `app.js` JavaScript, and `*.c` files C. The SDK of the
//! language (`sdk/python`, `sdk/js`, `sdk/c`, embedded in this crate) is put beside the
//! sources, so `import cameo`, `import * as cameo from "./cameo.js"` and `#include "cameo.h"`
//! work without installing anything. A build whose inputs have not changed since the last one
//! is skipped.
//!
//! # Layout
//! - `project`: which language a directory holds, its sources and where its component goes.
//! - `tools`: finding the toolchains, and the install command to give when one is missing.
//! - `sdk`: the WIT package and the SDK files embedded in the crate.
//! - `cache`: skipping a build whose inputs are unchanged.
//! - `c`: C bindings (wit-bindgen-c), clang, and the component step (wit-component with the
//!   preview1 reactor adapter).
//! - `python`: componentize-py.
//! - `js`: jco with its QuickJS backend.
//! - `scaffold`: the files of a new operator project, per language.
//! - `unicode`: the word-character and lower-case tables that make every SDK split and
//!   lower-case text the way Rust does.
//! - `error`: [`BuildError`].

#![deny(missing_docs)]

mod c;
mod cache;
mod error;
mod js;
mod project;
mod python;
pub mod scaffold;
mod sdk;
mod tools;
pub mod unicode;

use std::path::{Path, PathBuf};

pub use error::BuildError;
pub use project::{Language, detect};
pub use tools::{Tool, Toolchain, find_tool};

/// Builds the Python, JavaScript or C operator project in `dir` into a component and returns
/// its path: `<out_dir>/<project name>.wasm`, with `out_dir` defaulting to `dir/target`.
/// Rust projects are refused with [`BuildError::RustProject`]: build them with cargo
/// (`cameo_host::build_rust`).
pub fn build(dir: &Path, out_dir: Option<&Path>) -> Result<PathBuf, BuildError> {
    let language = detect(dir)?;
    let project = project::Project::new(dir, language, out_dir)?;
    let inputs = project.inputs()?;
    let tool = match language {
        Language::Rust => {
            return Err(BuildError::RustProject {
                dir: dir.display().to_string(),
            });
        }
        Language::C => find_tool(Toolchain::Clang)?,
        Language::Python => find_tool(Toolchain::ComponentizePy)?,
        Language::JavaScript => find_tool(Toolchain::Jco)?,
    };
    // The builder's own source stands for its recipe (flags, steps): a change rebuilds.
    let recipe = match language {
        Language::C => include_str!("c.rs"),
        Language::Python => include_str!("python.rs"),
        Language::JavaScript => include_str!("js.rs"),
        Language::Rust => "",
    };
    let key = cache::key(language, &tool, recipe, &inputs);
    if cache::is_fresh(&project.component, &key) {
        return Ok(project.component);
    }
    project.stage(&inputs)?;
    match language {
        Language::C => c::build(&project, &tool, project.world(&inputs))?,
        Language::Python => python::build(&project, &tool, project.world(&inputs))?,
        Language::JavaScript => js::build(&project, &tool, project.world(&inputs))?,
        Language::Rust => {}
    }
    cache::mark_fresh(&project.component, &key)?;
    Ok(project.component)
}
