//! The client verbs: talk to a `cameo serve` over its HTTP API.
//!
//! The server and token come from `--server`/`--token`, else `CAMEO_SERVER`/`CAMEO_TOKEN`,
//! else the config file `cameo login` writes. An API error is printed as one line (the
//! server's message and the status) with a non-zero exit.
//!
//! # Layout
//! - [`api`]: the connection: where, which token, requests and their errors.
//! - [`config`]: the config file.
//! - [`follow`]: following a job's output or log across restarts.
//! - [`login`], [`tenant`], [`module`], [`job`], [`events`], [`logs`], [`top`]: one module
//!   per verb; [`shadow`]: `cameo job shadow`; [`status`]: `cameo job status` as tables.

pub mod api;
pub mod config;
pub mod events;
pub mod follow;
pub mod job;
pub mod login;
pub mod logs;
pub mod module;
pub mod shadow;
pub mod status;
pub mod tenant;
pub mod top;

/// Prints `rows` as aligned columns under `header`.
pub fn print_table(header: &[&str], rows: &[Vec<String>]) {
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.len());
        }
    }
    let line = |cells: Vec<&str>| {
        let text: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(cell, width)| format!("{cell:<width$}"))
            .collect();
        println!("{}", text.join("  ").trim_end());
    };
    line(header.to_vec());
    for row in rows {
        line(row.iter().map(String::as_str).collect());
    }
}
