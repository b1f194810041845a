//! The `cameo` command line: parses flags and calls into the `cameo_host` library, one module
//! per subcommand.
//!
//! # Layout
//! - this file: the command tree, logging, and how errors are printed.
//! - [`commands`]: one module per subcommand (`run`, `serve`, `operator`, `bench`), and the
//!   client verbs of a server in `commands::client`.
//! - [`bench`](mod@bench): the benchmark scenarios behind `cameo bench`, and their charts.

mod bench;
mod commands;

use clap::{Parser, Subcommand};

/// Events are allocated by the worker that reads or makes them and freed by the one that
/// consumes them: mimalloc keeps that cross-thread traffic cheap where the system allocator
/// contends and consolidates.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Run stream operators as sandboxed WebAssembly components, scheduled by deadline.
#[derive(Debug, Parser)]
#[command(name = "cameo", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run a job embedded, without a server: sources, operators and sinks from a job spec.
    ///
    /// With finite sources the job ends when all input is processed, then a summary is printed
    /// (to stderr, or as one JSON object on the last line of stdout with --json).
    Run(commands::run::RunArgs),
    /// Serve the HTTP API that tenants share: module registry, jobs, events in and out.
    ///
    /// The first start writes an admin token to a file in the data directory. SIGINT or
    /// SIGTERM stops taking requests, finishes those in flight, checkpoints every running job
    /// and exits; the next start resumes them.
    Serve(commands::serve::ServeArgs),
    /// Save a server and token for the client verbs (checked against the server first).
    Login(commands::client::login::LoginArgs),
    /// Tenants and their tokens (the server's admin token).
    Tenant(commands::client::tenant::TenantArgs),
    /// The module registry of a server: push, list, show, rm.
    Module(commands::client::module::ModuleArgs),
    /// Jobs on a server: submit, list, status, pause, resume, cancel.
    Job(commands::client::job::JobArgs),
    /// Send events (NDJSON lines) to a job's http source, retrying while the job is behind.
    Send(commands::client::events::SendArgs),
    /// Print a job's http sink as NDJSON with seq.
    Tail(commands::client::events::TailArgs),
    /// Print what a job's operators logged or printed, with --follow until the job ends.
    Logs(commands::client::logs::LogsArgs),
    /// Watch the running jobs: latency percentiles, deadline misses, operator call rates.
    Top(commands::client::top::TopArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell) to stdout.
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// Work with operator projects.
    #[command(subcommand)]
    Operator(commands::operator::OperatorCommand),
    /// Measure the host: scenarios run side by side in one process, reported as ratios.
    #[command(subcommand)]
    Bench(commands::bench::BenchCommand),
}

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("CAMEO_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn,operator=info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    init_logging();
    let result = match cli.command {
        Command::Run(args) => commands::run::run(args),
        Command::Serve(args) => commands::serve::run(args),
        Command::Login(args) => commands::client::login::run(args),
        Command::Tenant(args) => commands::client::tenant::run(args),
        Command::Module(args) => commands::client::module::run(args),
        Command::Job(args) => commands::client::job::run(args),
        Command::Send(args) => commands::client::events::send(args),
        Command::Tail(args) => commands::client::events::tail(args),
        Command::Logs(args) => commands::client::logs::run(args),
        Command::Top(args) => commands::client::top::run(args),
        Command::Completions { shell } => {
            let mut command = <Cli as clap::CommandFactory>::command();
            clap_complete::generate(shell, &mut command, "cameo", &mut std::io::stdout());
            Ok(())
        }
        Command::Operator(command) => commands::operator::run(command),
        Command::Bench(command) => commands::bench::run(command),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {}", describe(&err));
            std::process::ExitCode::FAILURE
        }
    }
}

/// An error and its causes on one line, each cause once: many of our errors already name
/// their cause in their own message.
fn describe(err: &anyhow::Error) -> String {
    let mut text = String::new();
    for cause in err.chain() {
        let cause = cause.to_string();
        if text.ends_with(&cause) {
            continue;
        }
        if !text.is_empty() {
            text.push_str(": ");
        }
        text.push_str(&cause);
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_error_names_each_cause_once() {
        let io = std::io::Error::new(std::io::ErrorKind::NotFound, "no such file");
        let load = cameo_host::LoadError::Read {
            path: "op.wasm".into(),
            source: io,
        };
        let err = anyhow::Error::new(load).context("could not start the job");
        assert_eq!(
            describe(&err),
            "could not start the job: could not read operator module op.wasm: no such file"
        );
    }
}
