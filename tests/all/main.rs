//! Integration tests: real operator components, built from `example-operators/rust` by the
//! build script, run through the real host.

mod compiled_cache;
mod compute;
mod conformance;
mod deadlines;
mod embedding;
mod exact_generator;
mod fuel;
mod fuzz_regressions;
mod hostile;
mod joins;
mod late;
mod loading;
mod misbehaving;
mod policies;
mod recovery;
mod replay;
mod sched;
mod shadow;
mod slices;
mod support;
mod upgrade;
mod window_conformance;
mod windows;
mod wordcount;
