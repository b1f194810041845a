//! `cameo operator`: create and build operator projects in Rust, Python, JavaScript or C.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use cameo_lang::Language;
use clap::Subcommand;

/// The `operator` subcommands.
#[derive(Debug, Subcommand)]
pub enum OperatorCommand {
    /// Create an operator project: a small working operator, a README, a test input and a job
    /// spec that runs it.
    New {
        /// The project's name, also its directory's.
        name: String,
        /// Its language.
        #[arg(long, value_parser = ["rust", "python", "js", "c"])]
        lang: String,
        /// The directory to create the project in.
        #[arg(long, default_value = ".")]
        dir: PathBuf,
    },
    /// Build an operator project into a WebAssembly component and print the component's path.
    /// The language is detected: Cargo.toml (Rust, with cargo), app.py (Python, with
    /// componentize-py), app.js (JavaScript, with jco) or .c files (C, with clang).
    Build {
        /// The operator project's directory.
        #[arg(default_value = ".")]
        dir: PathBuf,
        /// Print `{"component": PATH}` instead of the bare path.
        #[arg(long)]
        json: bool,
        /// Keep running, and build again whenever a source file changes (looked for every
        /// half second).
        #[arg(long)]
        watch: bool,
    },
    /// Build the operator project and run it on sample events in the same host, limits and
    /// scheduling as `cameo run`: prints its outputs (`KEY VALUE @TIME`), then its dead
    /// letters (`dead: REASON: VALUE`); its log lines go to stderr. With --expect, a
    /// difference from the expected lines is shown and the command fails.
    Test(Box<super::operator_test::TestArgs>),
}

/// Runs an `operator` subcommand.
pub fn run(command: OperatorCommand) -> anyhow::Result<()> {
    match command {
        OperatorCommand::New { name, lang, dir } => new(&name, &lang, &dir),
        OperatorCommand::Build { dir, json, watch } => {
            let build_and_print = || {
                let component = build(&dir).with_context(|| {
                    format!("could not build the operator in {}", dir.display())
                })?;
                if json {
                    println!("{}", serde_json::json!({ "component": component }));
                } else {
                    println!("{}", component.display());
                }
                Ok(())
            };
            if watch {
                super::watch::watch(&dir, WATCH_POLL, build_and_print)
            } else {
                build_and_print()
            }
        }
        OperatorCommand::Test(args) => super::operator_test::run(*args),
    }
}

/// How often `build --watch` looks for changes.
const WATCH_POLL: std::time::Duration = std::time::Duration::from_millis(500);

/// Builds the project in `dir` with its language's toolchain.
pub(super) fn build(dir: &Path) -> anyhow::Result<PathBuf> {
    Ok(match cameo_lang::detect(dir)? {
        Language::Rust => cameo_host::build_rust(dir)?,
        _ => cameo_lang::build(dir, None)?,
    })
}

/// Creates the project `name` in `parent`.
fn new(name: &str, lang: &str, parent: &Path) -> anyhow::Result<()> {
    let language = Language::from_name(lang)
        .with_context(|| format!("unknown language `{lang}`: use rust, python, js or c"))?;
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        || !name.starts_with(|c: char| c.is_ascii_alphabetic())
    {
        bail!(
            "`{name}` is not a usable operator name: use ASCII letters, digits, `-` and `_`, \
             starting with a letter"
        );
    }
    let dir = parent.join(name);
    if dir.exists() {
        bail!(
            "{} already exists: choose another name or --dir",
            dir.display()
        );
    }
    for file in cameo_lang::scaffold::files(language, name, &sdk_dependency()) {
        let path = dir.join(file.path);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("could not create {}", parent.display()))?;
        }
        std::fs::write(&path, file.content)
            .with_context(|| format!("could not write {}", path.display()))?;
    }
    eprintln!(
        "created the {language} operator {name} in {}; build it with `cameo operator build {}`",
        dir.display(),
        dir.display()
    );
    Ok(())
}

/// The `cameo-sdk` dependency of a new Rust project: the SDK of the checkout this binary was
/// built from, when it is still there; otherwise the crate by name.
fn sdk_dependency() -> String {
    let sdk = Path::new(env!("CARGO_MANIFEST_DIR")).join("../sdk");
    match sdk.canonicalize() {
        Ok(sdk) => format!(
            "cameo-sdk = {{ path = {} }}",
            serde_json::Value::String(sdk.display().to_string())
        ),
        Err(_) => "cameo-sdk = \"0.1\"".to_string(),
    }
}
