//! Test guest `spin-slice`: for every event, burns exactly `config.iterations` loop
//! iterations of pure computation, then emits the event unchanged. Gives a predictable amount
//! of work per event for testing how the host interleaves slices.
//!
//! # Config
//!
//! - `iterations` (integer, default 1000000): loop iterations per event.

use cameo_sdk::{Config, Event, Result};

fn spin_slice(event: Event, config: &Config) -> Result<Option<Event>> {
    let iterations = config.get_u64("iterations")?.unwrap_or(1_000_000);
    let mut counter: u64 = 0;
    for _ in 0..iterations {
        // `black_box` keeps the optimiser from folding the loop away.
        counter = core::hint::black_box(counter.wrapping_add(1));
    }
    core::hint::black_box(counter);
    Ok(Some(event))
}

cameo_sdk::export_map!(spin_slice);
