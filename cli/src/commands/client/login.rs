//! `cameo login`: checks a server and token, then saves them in the config file.

use std::path::PathBuf;

use anyhow::Context as _;

use super::api::{Api, DEFAULT_SERVER};
use super::config::{self, ClientConfig};

/// Flags of `cameo login`.
#[derive(Debug, clap::Args)]
pub struct LoginArgs {
    /// The server's URL.
    #[arg(long, default_value = DEFAULT_SERVER)]
    server: String,
    /// The token.
    #[arg(long, conflicts_with = "token_file")]
    token: Option<String>,
    /// A file holding the token (e.g. the admin token file `cameo serve` writes at first
    /// start).
    #[arg(long)]
    token_file: Option<PathBuf>,
}

/// Checks the token against the server and saves both.
pub fn run(args: LoginArgs) -> anyhow::Result<()> {
    let token = match (args.token, args.token_file) {
        (Some(token), _) => token,
        (None, Some(path)) => std::fs::read_to_string(&path)
            .with_context(|| format!("could not read the token file {}", path.display()))?
            .trim()
            .to_string(),
        (None, None) => std::env::var("CAMEO_TOKEN")
            .ok()
            .filter(|t| !t.is_empty())
            .context("no token: pass --token TOKEN or --token-file FILE (or set CAMEO_TOKEN)")?,
    };
    let api = Api::new(args.server.clone(), Some(token.clone()));
    api.send("GET", "/v1/jobs", None)
        .context("the server did not accept the token")?;
    let path = config::save(&ClientConfig {
        server: Some(args.server.clone()),
        token: Some(token),
    })?;
    println!("logged in to {}; saved in {}", args.server, path.display());
    Ok(())
}
