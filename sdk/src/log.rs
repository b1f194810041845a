//! Levelled lines in the host's log, tagged by the host with the job and operator.
//!
//! The host rate-limits log lines per instance: lines past the limit are counted, not kept.
//! The [`trace!`](crate::trace), [`debug!`](crate::debug), [`info!`](crate::info),
//! [`warn!`](crate::warn) and [`error!`](crate::error) macros take `format!` arguments.
//!
//! ```no_run
//! use cameo_sdk::log;
//!
//! log::info("starting");
//! let skipped = 3;
//! cameo_sdk::warn!("skipped {skipped} events without a price");
//! log::log(log::Level::Debug, "details");
//! ```

pub use crate::bindings::cameo::operator::types::Level;

/// Writes one line at `level`.
pub fn log(level: Level, message: &str) {
    crate::bindings::cameo::operator::log::log(level, message)
}

/// Writes one line at [`Level::Trace`].
pub fn trace(message: &str) {
    log(Level::Trace, message)
}

/// Writes one line at [`Level::Debug`].
pub fn debug(message: &str) {
    log(Level::Debug, message)
}

/// Writes one line at [`Level::Info`].
pub fn info(message: &str) {
    log(Level::Info, message)
}

/// Writes one line at [`Level::Warn`].
pub fn warn(message: &str) {
    log(Level::Warn, message)
}

/// Writes one line at [`Level::Error`].
pub fn error(message: &str) {
    log(Level::Error, message)
}

/// Writes a `format!`-style line at [`Level::Trace`](crate::log::Level::Trace).
#[macro_export]
macro_rules! trace {
    ($($arg:tt)+) => {
        $crate::log::trace(&::std::format!($($arg)+))
    };
}

/// Writes a `format!`-style line at [`Level::Debug`](crate::log::Level::Debug).
#[macro_export]
macro_rules! debug {
    ($($arg:tt)+) => {
        $crate::log::debug(&::std::format!($($arg)+))
    };
}

/// Writes a `format!`-style line at [`Level::Info`](crate::log::Level::Info).
#[macro_export]
macro_rules! info {
    ($($arg:tt)+) => {
        $crate::log::info(&::std::format!($($arg)+))
    };
}

/// Writes a `format!`-style line at [`Level::Warn`](crate::log::Level::Warn).
#[macro_export]
macro_rules! warn {
    ($($arg:tt)+) => {
        $crate::log::warn(&::std::format!($($arg)+))
    };
}

/// Writes a `format!`-style line at [`Level::Error`](crate::log::Level::Error).
#[macro_export]
macro_rules! error {
    ($($arg:tt)+) => {
        $crate::log::error(&::std::format!($($arg)+))
    };
}
