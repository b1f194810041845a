//! Integration tests for cameo: the example operators built as real components and run
//! through the host.
//!
//! The build script compiles every crate of the `example-operators/rust` workspace (the
//! example operators and the misbehaving test guests) for `wasm32-wasip2`, in release mode,
//! into `target/guests`, and only again when the SDK, the WIT contract or a guest changes.
//! [`guests`] gives the absolute path of each resulting component. The tests themselves live
//! in `all/`.
#![deny(missing_docs)]

/// Absolute paths of the guest components built by the build script, one constant per crate
/// of the `example-operators/rust` workspace: the crate name upper-cased with hyphens as
/// underscores (`FILTER`, `JSON_MAP`, `WORDCOUNT`, `TUMBLING_SUM`, `WINDOW_AGG`,
/// `TIMER_COUNT`, `FILTER_RAW`, `INTERVAL_JOIN`, and the test guests `LOOPER`, `MEMORY_HOG`,
/// `TRAPPER`, `FLOOD`, `STATE_HOG`, `SPIN_SLICE`, `SPIN_WINDOW`, `HOSTILE`, `HOSTILE_WINDOW`,
/// `WORDCOUNT_V2`, `WORDCOUNT_V3`), plus [`guests::ALL`] listing them all. The
/// `for_each_guest!` macro invokes a macro once per constant name:
///
/// ```
/// macro_rules! exists {
///     ($name:ident) => {
///         assert!(std::path::Path::new(cameo_tests::guests::$name).is_file());
///     };
/// }
/// cameo_tests::for_each_guest!(exists);
/// ```
pub mod guests {
    include!(concat!(env!("OUT_DIR"), "/guests.rs"));
}
