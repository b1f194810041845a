//! `cameo serve`: a long-running host that tenants share over HTTP. Each tenant pushes
//! operator components into a registry of immutable versions, submits jobs that use them,
//! sends events in and reads results out, and sees only its own things.
//!
//! [`run`] serves on a listener until a shutdown future completes, with all state in a data
//! directory: a redb database (tenants, hashed tokens, modules, versions, jobs), component
//! bytes by sha256, the compiled-code cache, and the host's checkpoints and http inputs and
//! outputs. After a restart, graceful or not, every tenant, module and job is back, and
//! running jobs resume from their last checkpoint.
//!
//! ```no_run
//! # async fn example() -> Result<(), cameo_server::ServerError> {
//! let config = cameo_server::Config::new("/var/lib/cameo".into());
//! if let Some(path) = cameo_server::prepare(&config)? {
//!     println!("admin token written to {}", path.display());
//! }
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:7070").await?;
//! cameo_server::run(listener, config, async {
//!     let _ = tokio::signal::ctrl_c().await;
//! })
//! .await
//! # }
//! ```
//!
//! # Layout
//! - this file: [`Config`], [`prepare`], [`run`] and the state handlers share.
//! - [`error`]: the API's errors as JSON.
//! - [`store`]: the redb database and its records.
//! - [`auth`]: tokens, roles, the caller of a request.
//! - [`modules`]: the module registry: validate, store, resolve, delete.
//! - [`jobs`]: running jobs on the host, persisting and resuming them, their http inputs
//!   and outputs.
//! - [`quota`]: the quotas checked while jobs run: running jobs and instances, ingest rate.
//! - [`logs`]: the operators' log lines, in a bounded on-disk ring per job.
//! - [`metrics`]: the Prometheus text format of the jobs' and the host's figures.
//! - [`series`]: each running job's figures over time, sampled once a second, for the
//!   console's charts.
//! - [`routes`]: the HTTP API, one module per resource.
//! - [`tls`]: HTTPS: the certificate and key, and a listener that hands over TLS connections.

#![deny(missing_docs)]

pub mod auth;
pub mod error;
pub mod jobs;
pub mod logs;
pub mod metrics;
pub mod modules;
pub mod quota;
pub mod routes;
pub mod series;
pub mod store;
pub mod tls;

use std::future::Future;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use cameo_host::{Host, RunOptions};

use crate::auth::{Role, SYSTEM_TENANT};
use crate::store::{Quotas, Store, Tenant, Token};

/// How the server runs.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where everything is kept.
    pub data_dir: PathBuf,
    /// How the host runs jobs (policy, limits, budget); its data directory is set to one
    /// inside `data_dir`.
    pub run_options: RunOptions,
    /// The largest module upload, in bytes (413 past it).
    pub max_module_bytes: u64,
    /// The largest batch of events in one request, in bytes (413 past it).
    pub max_batch_bytes: u64,
    /// What a new tenant may hold unless it is created with other quotas.
    pub default_quotas: Quotas,
    /// Bytes of one segment of a job's log ring; a job keeps one to two segments of its
    /// newest lines.
    pub log_segment_bytes: u64,
    /// Serve HTTPS with this certificate and key instead of plain HTTP.
    pub tls: Option<tls::TlsFiles>,
}

impl Config {
    /// The defaults, keeping everything in `data_dir`.
    pub fn new(data_dir: PathBuf) -> Self {
        Config {
            data_dir,
            run_options: RunOptions::default(),
            max_module_bytes: 64 << 20,
            max_batch_bytes: 16 << 20,
            default_quotas: Quotas::default(),
            log_segment_bytes: logs::SEGMENT_BYTES,
            tls: None,
        }
    }

    fn database(&self) -> PathBuf {
        self.data_dir.join("cameo.redb")
    }

    /// Where the first admin token is written.
    pub fn admin_token_path(&self) -> PathBuf {
        self.data_dir.join("admin.token")
    }
}

/// Why the server could not start or stopped.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// The data directory could not be used.
    #[error("data directory {path}: {source}")]
    DataDir {
        /// The directory.
        path: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The database could not be used.
    #[error(transparent)]
    Store(#[from] store::StoreError),
    /// The host could not start.
    #[error("the host could not start: {0}")]
    Host(#[from] cameo_host::JobError),
    /// Serving failed.
    #[error("serving failed: {0}")]
    Serve(#[from] std::io::Error),
    /// The TLS certificate or key could not be used.
    #[error(transparent)]
    Tls(#[from] tls::TlsError),
}

/// Creates the data directory and, on first start, the system tenant and an admin token in
/// a file readable only by its owner; returns that file's path when it was just created.
pub fn prepare(config: &Config) -> Result<Option<PathBuf>, ServerError> {
    let dir_error = |source| ServerError::DataDir {
        path: config.data_dir.display().to_string(),
        source,
    };
    std::fs::create_dir_all(&config.data_dir).map_err(dir_error)?;
    let store = Store::open(&config.database())?;
    let created = first_start(config, &store).map_err(dir_error)?;
    Ok(created)
}

/// Makes the system tenant and its admin token unless the system tenant exists.
fn first_start(config: &Config, store: &Store) -> std::io::Result<Option<PathBuf>> {
    let to_io = |err: store::StoreError| std::io::Error::other(err.to_string());
    if store.tenant(SYSTEM_TENANT).map_err(to_io)?.is_some() {
        return Ok(None);
    }
    let token = auth::new_token().map_err(|err| std::io::Error::other(err.message))?;
    let path = config.admin_token_path();
    write_private(&path, format!("{token}\n").as_bytes())?;
    store
        .put_tenant(&Tenant {
            name: SYSTEM_TENANT.into(),
            created_ms: store::now_ms(),
            quotas: config.default_quotas,
        })
        .map_err(to_io)?;
    store
        .put_token(
            &auth::token_hash(&token),
            &Token {
                tenant: SYSTEM_TENANT.into(),
                role: Role::Admin,
                created_ms: store::now_ms(),
            },
        )
        .map_err(to_io)?;
    Ok(Some(path))
}

/// Writes a file only its owner may read.
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

/// What every handler shares.
pub struct Shared {
    /// The configuration.
    pub config: Config,
    /// The database.
    pub store: Store,
    /// The module registry.
    pub modules: modules::Registry,
    /// The jobs.
    pub jobs: jobs::Jobs,
    /// The operators' logs.
    pub logs: Arc<logs::Logs>,
    /// True once the jobs of the last run are resumed.
    pub ready: AtomicBool,
    /// The tenants' ingest-rate buckets.
    pub ingest: quota::IngestLimiter,
    /// The running jobs' figures over time.
    pub series: series::Series,
}

/// The state handlers receive.
pub type AppState = Arc<Shared>;

/// Serves the API on `listener` until `shutdown` completes: then it stops taking requests,
/// finishes those in flight, checkpoints every running job and returns.
pub async fn run(
    listener: tokio::net::TcpListener,
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServerError> {
    // A bad certificate or key stops the start before anything else.
    let acceptor = config.tls.as_ref().map(tls::acceptor).transpose()?;
    prepare(&config)?;
    let store = Store::open(&config.database())?;
    let mut options = config.run_options.clone();
    options.data_dir = Some(config.data_dir.join("host"));
    let logs = Arc::new(logs::Logs::with_segment_bytes(
        &config.data_dir,
        config.log_segment_bytes,
    ));
    let sink = Arc::clone(&logs);
    let host = tokio::task::spawn_blocking(move || {
        let mut host = Host::new(options)?;
        host.engine().set_log_sink(sink);
        host.start()?;
        Ok::<_, cameo_host::JobError>(host)
    })
    .await
    .map_err(|err| std::io::Error::other(format!("the host's start panicked: {err}")))??;
    let modules = modules::Registry::new(&config.data_dir);
    let state: AppState = Arc::new(Shared {
        jobs: jobs::Jobs::new(host),
        logs,
        modules,
        store,
        config,
        ready: AtomicBool::new(false),
        ingest: quota::IngestLimiter::default(),
        series: series::Series::default(),
    });
    let resume = Arc::clone(&state);
    tokio::task::spawn_blocking(move || {
        jobs::resume_all(&resume);
        resume.ready.store(true, Ordering::Release);
    });
    let sampler = tokio::spawn(sample_series(Arc::clone(&state)));
    let app = routes::router(Arc::clone(&state));
    let served = match acceptor {
        Some(acceptor) => {
            let listener = tls::TlsListener::new(listener, acceptor)?;
            axum::serve(listener, app)
                .with_graceful_shutdown(shutdown)
                .await
        }
        None => {
            axum::serve(listener, app)
                .with_graceful_shutdown(shutdown)
                .await
        }
    };
    sampler.abort();
    let stopping = Arc::clone(&state);
    tokio::task::spawn_blocking(move || stopping.jobs.shutdown())
        .await
        .map_err(|err| std::io::Error::other(format!("stopping the jobs panicked: {err}")))?;
    served?;
    Ok(())
}

/// Samples the running jobs' figures into [`Shared::series`] once a [`series::INTERVAL`],
/// until aborted.
async fn sample_series(state: AppState) {
    let mut tick = tokio::time::interval(series::INTERVAL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let running: Vec<_> = state
            .jobs
            .live_jobs(None)
            .into_iter()
            .map(|job| (job.id, job.monitor))
            .collect();
        state.series.sample(&running, store::now_ms());
    }
}
