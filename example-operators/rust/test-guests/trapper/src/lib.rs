//! Test guest `trapper`: passes events through unchanged, but panics, which traps the
//! component, on an event whose value equals `config.trap_on`.
//!
//! # Config
//!
//! - `trap_on` (string, default `"boom"`): the value that traps.

use cameo_sdk::{Config, Event, Result};

fn trapper(event: Event, config: &Config) -> Result<Option<Event>> {
    let trap_on = config.get_str("trap_on")?.unwrap_or("boom");
    if event.value == trap_on.as_bytes() {
        panic!("trapper: trapping on event value {trap_on:?}");
    }
    Ok(Some(event))
}

cameo_sdk::export_map!(trapper);
