//! [`BuildError`]: why an operator could not be built.

/// Why an operator project could not be built. Every message says what to do.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// The directory does not exist or cannot be read.
    #[error("cannot read the operator project {dir}: {source}")]
    Unreadable {
        /// The directory.
        dir: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The directory holds no operator this crate knows.
    #[error(
        "{dir} is not an operator project: expected Cargo.toml (Rust), app.py (Python), app.js \
         (JavaScript) or .c files (C); create one with `cameo operator new NAME --lang rust|python|js|c`"
    )]
    NotAProject {
        /// The directory.
        dir: String,
    },
    /// A Rust project was given to the builder of the other languages.
    #[error("{dir} is a Rust operator: build it with cargo (`cameo operator build` does)")]
    RustProject {
        /// The directory.
        dir: String,
    },
    /// A source file has the name of a generated file.
    #[error(
        "{file} in {dir} has the name of a file cameo generates (operator.c, operator.h, \
         operator_component_type.o): rename it, e.g. to app.c"
    )]
    ReservedName {
        /// The file.
        file: String,
        /// The project.
        dir: String,
    },
    /// A toolchain is not installed.
    #[error("{tool} is not installed (looked in {looked}): {install}")]
    MissingTool {
        /// The tool.
        tool: &'static str,
        /// Where it was looked for.
        looked: String,
        /// How to install it.
        install: &'static str,
    },
    /// Reading or writing a file failed.
    #[error("{what} {path}: {source}")]
    Io {
        /// What was being done.
        what: &'static str,
        /// The file.
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A toolchain ran and failed; its output says why.
    #[error("{tool} failed ({status}):\n{output}")]
    ToolFailed {
        /// The tool.
        tool: &'static str,
        /// Its exit status.
        status: String,
        /// What it printed (stderr, then stdout), trimmed.
        output: String,
    },
    /// Generating the C bindings or the component failed.
    #[error("{step} failed: {message}")]
    Component {
        /// The step: `generating C bindings`, `making the component`.
        step: &'static str,
        /// Why, with its causes.
        message: String,
    },
}

impl BuildError {
    /// An [`BuildError::Io`] for `path`.
    pub(crate) fn io(what: &'static str, path: &std::path::Path, source: std::io::Error) -> Self {
        BuildError::Io {
            what,
            path: path.display().to_string(),
            source,
        }
    }
}
