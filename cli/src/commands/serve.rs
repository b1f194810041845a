//! `cameo serve`: the HTTP server tenants share (the `cameo_server` library; this module only
//! parses flags and waits for a signal to stop).

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context as _;

use super::run::HostArgs;

/// Flags of `cameo serve`.
#[derive(Debug, clap::Args)]
#[command(after_long_help = super::limits_help())]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:7070")]
    listen: SocketAddr,
    /// Where the server keeps its state (database, modules, compiled code, checkpoints)
    /// [default: $XDG_DATA_HOME/cameo, or ~/.local/share/cameo].
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// The largest module upload, e.g. 64MiB.
    #[arg(long, value_parser = super::parse_bytes, default_value = "64MiB")]
    max_module_size: u64,
    /// Serve HTTPS with this certificate chain (PEM); needs --tls-key.
    #[arg(long, requires = "tls_key", value_name = "PEM")]
    tls_cert: Option<PathBuf>,
    /// The private key of --tls-cert (PEM: PKCS#8, PKCS#1 or SEC1).
    #[arg(long, requires = "tls_cert", value_name = "PEM")]
    tls_key: Option<PathBuf>,
    #[command(flatten)]
    host: HostArgs,
}

/// The user's data directory for cameo.
fn default_data_dir() -> anyhow::Result<PathBuf> {
    if let Some(dir) = std::env::var_os("XDG_DATA_HOME").filter(|d| !d.is_empty()) {
        return Ok(PathBuf::from(dir).join("cameo"));
    }
    let home = std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .context("no --data-dir given and HOME is not set; pass --data-dir DIR")?;
    Ok(PathBuf::from(home).join(".local/share/cameo"))
}

/// Serves until SIGINT or SIGTERM, then stops taking requests, finishes those in flight,
/// checkpoints every running job and exits.
pub fn run(args: ServeArgs) -> anyhow::Result<()> {
    let data_dir = match args.data_dir {
        Some(dir) => dir,
        None => default_data_dir()?,
    };
    let mut config = cameo_server::Config::new(data_dir);
    config.run_options = args.host.options(None)?;
    config.max_module_bytes = args.max_module_size;
    if let (Some(cert), Some(key)) = (args.tls_cert, args.tls_key) {
        let files = cameo_server::tls::TlsFiles { cert, key };
        // Checked before anything starts, so a bad file is the one error printed.
        cameo_server::tls::acceptor(&files)?;
        config.tls = Some(files);
    }
    let scheme = if config.tls.is_some() {
        "https"
    } else {
        "http"
    };
    if let Some(path) = cameo_server::prepare(&config)? {
        eprintln!(
            "first start: the admin token is in {} (readable only by you); \
             `cameo login --token-file {}` to use it",
            path.display(),
            path.display()
        );
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("could not start the async runtime")?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(args.listen)
            .await
            .with_context(|| format!("could not listen on {}", args.listen))?;
        eprintln!(
            "cameo serve: listening on {scheme}://{}",
            listener.local_addr()?
        );
        cameo_server::run(listener, config, stop_signal()).await?;
        eprintln!("cameo serve: stopped; running jobs were checkpointed and resume next start");
        Ok(())
    })
}

/// Completes at the first SIGINT or SIGTERM.
async fn stop_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
