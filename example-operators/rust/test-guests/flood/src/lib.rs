//! Test guest `flood`: for every input event, emits `config.copies` events whose value is
//! `config.size` bytes, keeping the input's key and event time: a huge output from a tiny
//! input.
//!
//! # Config
//!
//! - `copies` (integer, default 100000): events emitted per input event.
//! - `size` (integer, default 1024): bytes in each emitted value.

use cameo_sdk::{Config, Event, Operator, Output, Result};

struct Flood {
    copies: u64,
    size: usize,
}

impl Operator for Flood {
    fn init(config: &Config) -> Result<Self> {
        Ok(Flood {
            copies: config.get_u64("copies")?.unwrap_or(100_000),
            size: usize::try_from(config.get_u64("size")?.unwrap_or(1024))?,
        })
    }

    fn process(&mut self, event: Event, out: &mut Output) -> Result<()> {
        let value = vec![b'x'; self.size];
        for _ in 0..self.copies {
            out.emit(
                Event::new(value.clone())
                    .with_key_opt(event.key.clone())
                    .with_event_time(event.event_time),
            );
        }
        Ok(())
    }
}

cameo_sdk::export_operator!(Flood);
