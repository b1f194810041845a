//! The server's API over real HTTP: a server on an ephemeral loopback port per test, with
//! the guest components the integration tests build.

#[cfg(test)]
mod support;

mod auth;
mod bounded;
mod console;
mod dead_letters;
mod events;
mod jobs;
mod logs;
mod metrics;
mod modules;
mod openapi;
mod pause;
mod quota;
mod replay;
mod restart;
#[cfg(test)]
mod shadow;
mod status;
mod tls;
mod upgrade;
#[cfg(test)]
mod word_counts;
