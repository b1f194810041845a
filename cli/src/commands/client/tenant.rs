//! `cameo tenant create|list|token`: tenants and their tokens (the server's admin token).

use super::api::Connection;

/// `cameo tenant` verbs.
#[derive(Debug, clap::Subcommand)]
pub enum TenantCommand {
    /// Create a tenant.
    Create {
        /// Its name.
        name: String,
    },
    /// List the tenants.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Make a token for a tenant, printed once.
    Token {
        /// The tenant.
        name: String,
        /// What it may do: read, operate (run jobs, send events), deploy (push modules), or
        /// admin (make tokens).
        #[arg(long, default_value = "deploy")]
        role: String,
    },
}

/// Flags of `cameo tenant`.
#[derive(Debug, clap::Args)]
pub struct TenantArgs {
    #[command(flatten)]
    connection: Connection,
    #[command(subcommand)]
    command: TenantCommand,
}

/// Runs a `cameo tenant` verb.
pub fn run(args: TenantArgs) -> anyhow::Result<()> {
    let api = args.connection.api()?;
    match args.command {
        TenantCommand::Create { name } => {
            let body = serde_json::json!({ "name": name }).to_string();
            api.send("POST", "/v1/tenants", Some(body.into_bytes()))?;
            println!("tenant {name} created; make it a token with `cameo tenant token {name}`");
        }
        TenantCommand::List { json } => {
            let tenants = api.get_json("/v1/tenants")?;
            if json {
                println!("{tenants}");
            } else {
                let rows: Vec<Vec<String>> = tenants
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|t| {
                        vec![
                            t["name"].as_str().unwrap_or_default().to_string(),
                            t["quotas"]["modules"].to_string(),
                            t["quotas"]["bytes"].to_string(),
                            t["quotas"]["running_jobs"].to_string(),
                        ]
                    })
                    .collect();
                super::print_table(&["TENANT", "MODULES", "BYTES", "RUNNING JOBS"], &rows);
            }
        }
        TenantCommand::Token { name, role } => {
            let body = serde_json::json!({ "role": role }).to_string();
            let reply = api
                .send(
                    "POST",
                    &format!("/v1/tenants/{name}/tokens"),
                    Some(body.into_bytes()),
                )?
                .json()?;
            println!("{}", reply["token"].as_str().unwrap_or_default());
        }
    }
    Ok(())
}
