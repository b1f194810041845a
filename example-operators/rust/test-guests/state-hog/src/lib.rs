//! Test guest `state-hog`: for every event, writes 64 KiB values into host state under new
//! keys (`hog/<n>`), forever, until the host's state quota traps the call. Since a failed call
//! keeps none of its writes, state stays within the quota.
//!
//! Config: none.

use cameo_sdk::{Config, Event, Operator, Output, Result, state};

const VALUE_SIZE: usize = 64 * 1024;

struct StateHog {
    next_key: u64,
}

impl Operator for StateHog {
    fn init(_config: &Config) -> Result<Self> {
        Ok(StateHog { next_key: 0 })
    }

    fn process(&mut self, _event: Event, _out: &mut Output) -> Result<()> {
        let value = vec![0xa5u8; VALUE_SIZE];
        loop {
            let key = format!("hog/{:020}", self.next_key);
            self.next_key += 1;
            state::put(key.as_bytes(), &value);
        }
    }
}

cameo_sdk::export_operator!(StateHog);
