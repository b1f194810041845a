//! Test guest `hostile-window`: a windowed operator whose accumulator grows by `bytes` bytes
//! for every event added to a pane, so the host's window panes grow as fast as the input
//! allows. When a pane fires it emits the accumulator's size.
//!
//! # Config
//!
//! - `bytes` (integer, default 65536): bytes each event adds to its pane's accumulator.

use cameo_sdk::{Config, Event, Output, Result, Window, WindowOperator};

struct HostileWindow {
    bytes: usize,
}

impl WindowOperator for HostileWindow {
    type Acc = Vec<u8>;

    fn init(config: &Config) -> Result<Self> {
        Ok(HostileWindow {
            bytes: config.get_u64("bytes")?.unwrap_or(65536) as usize,
        })
    }

    fn add(&mut self, acc: &mut Vec<u8>, _event: &Event) -> Result<()> {
        acc.resize(acc.len() + self.bytes, 7);
        Ok(())
    }

    fn merge(&mut self, mut a: Vec<u8>, b: Vec<u8>) -> Result<Vec<u8>> {
        a.extend(b);
        Ok(a)
    }

    fn fire(
        &mut self,
        key: Option<&[u8]>,
        window: Window,
        acc: Vec<u8>,
        out: &mut Output,
    ) -> Result<()> {
        out.emit(
            Event::new(acc.len().to_string())
                .with_key_opt(key.map(<[u8]>::to_vec))
                .with_event_time(window.max_time()),
        );
        Ok(())
    }
}

cameo_sdk::export_windowed!(HostileWindow);
