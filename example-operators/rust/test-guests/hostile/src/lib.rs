//! Test guest `hostile`: on every event, attacks the host in the way `config.attack` names,
//! with sizes from the config, so tests can check that each attack fails alone with a clear
//! error and the host's memory stays bounded.
//!
//! # Config
//!
//! - `attack` (string, required), and for each the fields it reads:
//!   - `log`: logs one line of `bytes` bytes.
//!   - `timer-key`: registers one timer whose key has `bytes` bytes.
//!   - `timers`: registers `count` timers with distinct keys of `key_bytes` bytes (default
//!     8) at the event's time + 1 h.
//!   - `refire`: registers a timer at the event's time; `on-timer` registers the same timer
//!     again, every time it fires (it would fire forever).
//!   - `headers`: emits the event with `count` empty headers.
//!   - `state`: writes `count` entries of 8-byte keys and values, under new keys.
//!   - `memory`: allocates `mib` MiB once per instance, touches every page, and keeps it.
//!   - `panic`: panics with the message `message`.
//!   - none of these (`pass`): passes the event through.

use cameo_sdk::{Config, Event, Output, Result, Operator, state, timers};

struct Hostile {
    attack: String,
    bytes: usize,
    count: u64,
    mib: usize,
    key_bytes: usize,
    message: String,
    next: u64,
    kept: Vec<Vec<u8>>,
}

impl Operator for Hostile {
    fn init(config: &Config) -> Result<Self> {
        Ok(Hostile {
            attack: config.get_str("attack")?.unwrap_or("pass").to_string(),
            bytes: config.get_u64("bytes")?.unwrap_or(1024) as usize,
            count: config.get_u64("count")?.unwrap_or(1),
            mib: config.get_u64("mib")?.unwrap_or(1) as usize,
            key_bytes: config.get_u64("key_bytes")?.unwrap_or(8).max(8) as usize,
            message: config.get_str("message")?.unwrap_or("boom").to_string(),
            next: 0,
            kept: Vec::new(),
        })
    }

    fn process(&mut self, event: Event, out: &mut Output) -> Result<()> {
        match self.attack.as_str() {
            "log" => cameo_sdk::log::info(&"x".repeat(self.bytes)),
            "timer-key" => timers::register(Some(&vec![b'k'; self.bytes]), event.event_time),
            "timers" => {
                for _ in 0..self.count {
                    self.next += 1;
                    let mut key = vec![b'k'; self.key_bytes];
                    key[..8].copy_from_slice(&self.next.to_le_bytes());
                    timers::register(Some(&key), event.event_time.saturating_add(3_600_000));
                }
            }
            "refire" => timers::register(None, event.event_time),
            "headers" => {
                let mut loud = event.clone();
                for _ in 0..self.count {
                    loud = loud.with_header("", Vec::new());
                }
                out.emit(loud);
                return Ok(());
            }
            "state" => {
                for _ in 0..self.count {
                    self.next += 1;
                    state::put(&self.next.to_le_bytes(), &self.next.to_be_bytes());
                }
            }
            "memory" if self.kept.is_empty() => {
                for _ in 0..self.mib {
                    let mut block = vec![0u8; 1 << 20];
                    for page in block.chunks_mut(4096) {
                        page[0] = 1;
                    }
                    self.kept.push(block);
                }
            }
            "panic" => panic!("{}", self.message),
            _ => {}
        }
        out.emit(event);
        Ok(())
    }

    fn on_timer(&mut self, key: Option<Vec<u8>>, time: i64, out: &mut Output) -> Result<()> {
        if self.attack == "refire" {
            timers::register(key.as_deref(), time);
        }
        out.emit(Event::new(format!("fired {time}")).with_event_time(time));
        Ok(())
    }
}

cameo_sdk::export_operator!(Hostile);
