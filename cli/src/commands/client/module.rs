//! `cameo module push|list|show|rm`: the tenant's module registry.

use std::path::PathBuf;

use anyhow::Context as _;

use super::api::{ApiError, Connection, PROGRESS_BYTES};

/// `cameo module` verbs.
#[derive(Debug, clap::Subcommand)]
pub enum ModuleCommand {
    /// Upload a component as the next version of a module (identical bytes: the existing
    /// version).
    Push {
        /// The module's name.
        name: String,
        /// The component (.wasm) `cameo operator build` made.
        file: PathBuf,
    },
    /// List modules.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Show a module's versions.
    Show {
        /// The module's name.
        name: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Remove a module (NAME) or one version (NAME@N); refused while a running job uses it.
    Rm {
        /// NAME or NAME@N.
        module: String,
    },
}

/// Flags of `cameo module`.
#[derive(Debug, clap::Args)]
pub struct ModuleArgs {
    #[command(flatten)]
    connection: Connection,
    #[command(subcommand)]
    command: ModuleCommand,
}

/// Runs a `cameo module` verb.
pub fn run(args: ModuleArgs) -> anyhow::Result<()> {
    let api = args.connection.api()?;
    match args.command {
        ModuleCommand::Push { name, file } => {
            let bytes = std::fs::read(&file)
                .with_context(|| format!("could not read {}", file.display()))?;
            let size = bytes.len();
            let reply = api
                .call_with_progress("POST", &format!("/v1/modules/{name}"), bytes, "pushing")
                .map_err(|err| match err {
                    // A server refusing an oversized upload may close the connection before
                    // the client finished writing it; say what most likely happened.
                    ApiError::Unreachable { reason, .. } if size as u64 >= PROGRESS_BYTES => {
                        anyhow::anyhow!(
                            "the server closed the connection while {} ({size} bytes) was \
                             sent ({reason}); it is likely over the server's module size \
                             limit (`cameo serve --max-module-size`)",
                            file.display()
                        )
                    }
                    other => other.into(),
                })?
                .json()?;
            let version = reply["version"].as_u64().unwrap_or_default();
            if reply["existing"] == true {
                println!(
                    "{name}@{version} already holds these bytes (sha256 {})",
                    reply["sha256"]
                );
            } else {
                println!(
                    "pushed {name}@{version} ({} bytes, exports {})",
                    reply["size"], reply["exports"]
                );
            }
        }
        ModuleCommand::List { json } => {
            let modules = api.get_json("/v1/modules")?;
            if json {
                println!("{modules}");
            } else {
                let rows: Vec<Vec<String>> = modules
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|m| {
                        let versions = m["versions"].as_array().cloned().unwrap_or_default();
                        vec![
                            m["name"].as_str().unwrap_or_default().to_string(),
                            versions
                                .last()
                                .map_or(String::new(), |v| v["version"].to_string()),
                            versions.len().to_string(),
                        ]
                    })
                    .collect();
                super::print_table(&["MODULE", "LATEST", "VERSIONS"], &rows);
            }
        }
        ModuleCommand::Show { name, json } => {
            let module = api.get_json(&format!("/v1/modules/{name}"))?;
            if json {
                println!("{module}");
            } else {
                let rows: Vec<Vec<String>> = module["versions"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|v| {
                        vec![
                            format!("{name}@{}", v["version"]),
                            v["size"].to_string(),
                            v["exports"]
                                .as_array()
                                .map(|e| {
                                    e.iter()
                                        .filter_map(|x| x.as_str())
                                        .collect::<Vec<_>>()
                                        .join(",")
                                })
                                .unwrap_or_default(),
                            v["uploader"].as_str().unwrap_or_default().to_string(),
                            v["sha256"].as_str().unwrap_or_default().to_string(),
                        ]
                    })
                    .collect();
                super::print_table(
                    &["VERSION", "BYTES", "EXPORTS", "UPLOADER", "SHA256"],
                    &rows,
                );
            }
        }
        ModuleCommand::Rm { module } => {
            let path = match module.split_once('@') {
                Some((name, version)) => format!("/v1/modules/{name}?version={version}"),
                None => format!("/v1/modules/{module}"),
            };
            let reply = api.send("DELETE", &path, None)?.json()?;
            println!("removed {module} (versions {})", reply["removed_versions"]);
        }
    }
    Ok(())
}
