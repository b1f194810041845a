//! Module loading: arbitrary bytes (seeded with the real guest components, so most inputs
//! are mutated components) into `OperatorModule::load_bytes`. Nothing may panic, and every
//! refusal must say something.

#![no_main]

use std::sync::OnceLock;

use cameo_host::{Limits, OperatorEngine, OperatorModule};
use libfuzzer_sys::fuzz_target;

fn engine() -> &'static OperatorEngine {
    static ENGINE: OnceLock<OperatorEngine> = OnceLock::new();
    ENGINE.get_or_init(|| OperatorEngine::new(Limits::default()).expect("the engine"))
}

fuzz_target!(|bytes: &[u8]| {
    match OperatorModule::load_bytes(engine(), "fuzz.wasm", bytes) {
        Ok(module) => {
            assert_eq!(module.name(), "fuzz.wasm");
            assert!(module.is_for(engine()));
        }
        Err(err) => {
            let text = err.to_string();
            assert!(!text.trim().is_empty(), "an empty error: {err:?}");
            assert!(
                text.contains("fuzz.wasm"),
                "an error that does not name the module: {text}"
            );
        }
    }
});
