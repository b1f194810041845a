//! The host side of the `state`, `timers` and `log` imports.

use crate::bindings::Level;
use crate::bindings::cameo::operator::{log, state, timers, types};
use crate::engine::HostState;

/// Keys and values passed to `state` may not be larger than this.
const MAX_STATE_ITEM_BYTES: usize = 16 * 1024 * 1024;

/// Entries one `scan` call returns at most, whatever limit the guest asks for.
const MAX_SCAN_ENTRIES: u32 = 10_000;

impl types::Host for HostState {}

impl state::Host for HostState {
    fn get(&mut self, key: Vec<u8>) -> wasmtime::Result<Option<Vec<u8>>> {
        Ok(self.txn.get(&self.held.state, &key).map(<[u8]>::to_vec))
    }

    fn put(&mut self, key: Vec<u8>, value: Vec<u8>) -> wasmtime::Result<()> {
        if key.len() > MAX_STATE_ITEM_BYTES || value.len() > MAX_STATE_ITEM_BYTES {
            wasmtime::bail!(
                "state put of {} key bytes and {} value bytes is over the {MAX_STATE_ITEM_BYTES}-byte \
                 limit per key or value; split the value",
                key.len(),
                value.len()
            );
        }
        let adding = (key.len() + value.len()) as u64 + crate::state::ENTRY_OVERHEAD;
        self.tenant.check(self.txn.pending_bytes(), adding)?;
        self.txn
            .put(&self.held.state, key, value, self.state_quota)?;
        Ok(())
    }

    fn delete(&mut self, key: Vec<u8>) -> wasmtime::Result<()> {
        self.txn.delete(key);
        Ok(())
    }

    fn scan(
        &mut self,
        prefix: Vec<u8>,
        start_after: Option<Vec<u8>>,
        limit: u32,
    ) -> wasmtime::Result<Vec<(Vec<u8>, Vec<u8>)>> {
        let limit = limit.min(MAX_SCAN_ENTRIES) as usize;
        Ok(self
            .txn
            .scan(&self.held.state, &prefix, start_after.as_deref(), limit))
    }
}

/// Timers one call may register; more is a runaway.
const MAX_TIMERS_PER_CALL: usize = 100_000;

impl timers::Host for HostState {
    fn register(&mut self, key: Option<Vec<u8>>, time: i64) -> wasmtime::Result<()> {
        if self.timers.len() >= MAX_TIMERS_PER_CALL {
            wasmtime::bail!(
                "more than {MAX_TIMERS_PER_CALL} timers registered in one call; register one \
                 timer per key and window, not per event"
            );
        }
        self.timers.push((key, time));
        Ok(())
    }
}

impl log::Host for HostState {
    fn log(&mut self, level: Level, message: String) -> wasmtime::Result<()> {
        self.log.push(level, message);
        Ok(())
    }
}
