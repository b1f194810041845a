//! Test guest `spin-window`: a windowed count per key that burns exactly `config.iterations`
//! loop iterations of pure computation for every event it adds to a pane. Gives a windowed
//! operator a predictable amount of work per event, for measuring how the host schedules
//! work that only matters when a window fires.
//!
//! When a pane fires it emits `{"key", "window_start", "window_end", "count"}`.
//!
//! # Config
//!
//! - `iterations` (integer, default 10000): loop iterations per event.

use cameo_sdk::serde_json::json;
use cameo_sdk::{Config, Event, Output, Result, Window, WindowOperator};

/// The configured work per event.
struct SpinWindow {
    iterations: u64,
}

impl WindowOperator for SpinWindow {
    type Acc = u64;

    fn init(config: &Config) -> Result<Self> {
        let iterations = config.get_u64("iterations")?.unwrap_or(10_000);
        Ok(SpinWindow { iterations })
    }

    fn add(&mut self, acc: &mut u64, _event: &Event) -> Result<()> {
        let mut counter: u64 = 0;
        for _ in 0..self.iterations {
            // `black_box` keeps the optimiser from folding the loop away.
            counter = core::hint::black_box(counter.wrapping_add(1));
        }
        core::hint::black_box(counter);
        *acc += 1;
        Ok(())
    }

    fn merge(&mut self, a: u64, b: u64) -> Result<u64> {
        Ok(a + b)
    }

    fn fire(
        &mut self,
        key: Option<&[u8]>,
        window: Window,
        acc: u64,
        out: &mut Output,
    ) -> Result<()> {
        let result = json!({
            "key": key.map(String::from_utf8_lossy),
            "window_start": window.start,
            "window_end": window.end,
            "count": acc,
        });
        out.emit(
            Event::json(&result)?
                .with_key_opt(key.map(<[u8]>::to_vec))
                .with_event_time(window.max_time()),
        );
        Ok(())
    }
}

cameo_sdk::export_windowed!(SpinWindow);
