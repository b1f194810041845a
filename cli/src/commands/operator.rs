//! `cameo operator`: work with operator projects.

use std::path::PathBuf;

use anyhow::Context as _;
use clap::Subcommand;

/// The `operator` subcommands.
#[derive(Debug, Subcommand)]
pub enum OperatorCommand {
    /// Build an operator project into a WebAssembly component and print the component's path.
    Build {
        /// The operator project's directory.
        #[arg(default_value = ".")]
        dir: PathBuf,
        /// Print `{"component": PATH}` instead of the bare path.
        #[arg(long)]
        json: bool,
    },
}

/// Runs an `operator` subcommand.
pub fn run(command: OperatorCommand) -> anyhow::Result<()> {
    match command {
        OperatorCommand::Build { dir, json } => {
            let component = cameo_host::build_rust(&dir)
                .with_context(|| format!("could not build the operator in {}", dir.display()))?;
            if json {
                println!("{}", serde_json::json!({ "component": component }));
            } else {
                println!("{}", component.display());
            }
            Ok(())
        }
    }
}
