//! The host side of the `state`, `timers` and `log` imports.

use crate::bindings::Level;
use crate::bindings::cameo::operator::{log, state, timers, types};
use crate::budget::Resource;
use crate::engine::HostState;
use crate::limits::{
    MAX_SCAN_ENTRIES, MAX_STATE_ITEM_BYTES, MAX_TIMER_KEY_BYTES, MAX_TIMERS_PER_CALL,
    MAX_TIMERS_PER_INSTANCE,
};

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
        // Charged before it is kept: to the tenant's state quota and the job's memory budget,
        // as a write of a call in flight (released when the call ends; what is committed is
        // charged then).
        let adding = crate::state::entry_size(&key, &value);
        self.accounts.state.charge(adding)?;
        if let Err(exceeded) = self.accounts.budget.charge(Resource::KeyedState, adding) {
            self.accounts.state.release(adding);
            return Err(exceeded.into());
        }
        if let Err(quota) = self.txn.put(&self.held.state, key, value, self.state_quota) {
            self.accounts.state.release(adding);
            self.accounts.budget.release(adding);
            return Err(quota.into());
        }
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

impl timers::Host for HostState {
    fn register(&mut self, key: Option<Vec<u8>>, time: i64) -> wasmtime::Result<()> {
        if self.timers.len() >= MAX_TIMERS_PER_CALL {
            wasmtime::bail!(
                "more than {MAX_TIMERS_PER_CALL} timers registered in one call; register one \
                 timer per key and window, not per event"
            );
        }
        let key_bytes = key.as_ref().map_or(0, Vec::len);
        if key_bytes > MAX_TIMER_KEY_BYTES {
            wasmtime::bail!(
                "a timer key of {key_bytes} bytes is over the limit of {MAX_TIMER_KEY_BYTES} \
                 bytes; key timers by a short id (a hash of the key) and keep the rest in state"
            );
        }
        if self.timers_held + self.timers.len() >= MAX_TIMERS_PER_INSTANCE {
            wasmtime::bail!(
                "the operator instance holds {} timers, the limit per instance; register one \
                 timer per key and window, and let fired timers go",
                self.timers_held + self.timers.len()
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
