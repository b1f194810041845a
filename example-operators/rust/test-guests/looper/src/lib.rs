//! Test guest `looper`: passes events through unchanged, except that an event whose value is
//! exactly `loop` makes it spin forever in pure computation (no host calls, no allocation),
//! so only fuel metering or preemption can stop it.
//!
//! Config: none.

use cameo_sdk::{Config, Event, Result};

fn looper(event: Event, _config: &Config) -> Result<Option<Event>> {
    if event.value == b"loop" {
        let mut counter: u64 = 0;
        loop {
            // `black_box` keeps the optimiser from proving the loop useless.
            counter = core::hint::black_box(counter.wrapping_add(1));
        }
    }
    Ok(Some(event))
}

cameo_sdk::export_map!(looper);
