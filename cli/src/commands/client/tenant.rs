//! `cameo tenant create|list|token|quotas`: tenants, their tokens and quotas (the server's
//! admin token).

use super::api::Connection;

/// Quotas to set; those not given keep their value (the server's defaults for a new
/// tenant).
#[derive(Debug, Clone, clap::Args)]
pub struct QuotaFlags {
    /// Modules it may hold.
    #[arg(long)]
    modules: Option<u64>,
    /// Bytes of components it may store, over all versions.
    #[arg(long)]
    bytes: Option<u64>,
    /// Jobs it may run at once.
    #[arg(long)]
    running_jobs: Option<u64>,
    /// Operator instances it may run at once, over all its jobs.
    #[arg(long)]
    instances: Option<u64>,
    /// Events per second it may send to its jobs.
    #[arg(long)]
    events_per_s: Option<u64>,
    /// Bytes per second it may send to its jobs.
    #[arg(long)]
    bytes_per_s: Option<u64>,
}

impl QuotaFlags {
    /// The quotas given, as a JSON object.
    fn json(&self) -> serde_json::Value {
        let mut quotas = serde_json::Map::new();
        for (name, value) in [
            ("modules", self.modules),
            ("bytes", self.bytes),
            ("running_jobs", self.running_jobs),
            ("instances", self.instances),
            ("events_per_s", self.events_per_s),
            ("bytes_per_s", self.bytes_per_s),
        ] {
            if let Some(value) = value {
                quotas.insert(name.into(), value.into());
            }
        }
        quotas.into()
    }
}

/// `cameo tenant` verbs.
#[derive(Debug, clap::Subcommand)]
pub enum TenantCommand {
    /// Create a tenant.
    Create {
        /// Its name.
        name: String,
        #[command(flatten)]
        quotas: QuotaFlags,
    },
    /// Change a tenant's quotas (those not given stay); prints them.
    Quotas {
        /// The tenant.
        name: String,
        #[command(flatten)]
        quotas: QuotaFlags,
        /// Print the tenant as JSON.
        #[arg(long)]
        json: bool,
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
        TenantCommand::Create { name, quotas } => {
            let mut body = serde_json::json!({ "name": name });
            // Quotas not given take the server's defaults.
            body["quotas"] = quotas.json();
            let body = body.to_string();
            api.send("POST", "/v1/tenants", Some(body.into_bytes()))?;
            println!("tenant {name} created; make it a token with `cameo tenant token {name}`");
        }
        TenantCommand::Quotas { name, quotas, json } => {
            let tenant = api
                .send(
                    "PUT",
                    &format!("/v1/tenants/{name}/quotas"),
                    Some(quotas.json().to_string().into_bytes()),
                )?
                .json()?;
            if json {
                println!("{tenant}");
            } else if let Some(quotas) = tenant["quotas"].as_object() {
                for (quota, value) in quotas {
                    println!("{quota} {value}");
                }
            }
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
                            t["quotas"]["instances"].to_string(),
                            t["quotas"]["events_per_s"].to_string(),
                            t["quotas"]["bytes_per_s"].to_string(),
                        ]
                    })
                    .collect();
                super::print_table(
                    &[
                        "TENANT",
                        "MODULES",
                        "BYTES",
                        "RUNNING JOBS",
                        "INSTANCES",
                        "EVENTS/S",
                        "BYTES/S",
                    ],
                    &rows,
                );
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
