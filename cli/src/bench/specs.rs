//! The job specs of the scheduling scenarios: a generator source and the jobs around it.

use std::path::Path;

use super::{BenchError, example_operator};

/// A generator source `name`: `count` events at `rate` per second over `keys` keys.
pub(super) fn generator(name: &str, rate: f64, count: u64, keys: u64, seed: u64) -> String {
    format!(
        "[[source]]\nname = \"{name}\"\nkind = \"generator\"\ncount = {count}\nrate = {rate}\nkeys = {keys}\nseed = {seed}\npayload_bytes = 32\n"
    )
}

/// The specs of a scenario's jobs, at the given input rates.
pub(super) struct Specs {
    spin: String,
    filter: String,
    spin_window: String,
}

impl Specs {
    /// The specs around the example operators under `operators`, built first if need be.
    pub(super) fn new(operators: &Path) -> Result<Self, BenchError> {
        let path = |name: &str| -> Result<String, BenchError> {
            Ok(format!(
                "{:?}",
                example_operator(operators, name)?.display().to_string()
            ))
        };
        Ok(Specs {
            spin: path("test-guests/spin-slice")?,
            filter: path("filter")?,
            spin_window: path("test-guests/spin-window")?,
        })
    }

    /// A job with a 50 ms target: a filter, then a small computation per event.
    pub(super) fn latency_sensitive(&self, name: &str, tenant: &str, source: &str) -> String {
        let (filter, spin) = (&self.filter, &self.spin);
        format!(
            "name = \"{name}\"\ntenant = \"{tenant}\"\nlatency_target_ms = 50\n{source}\n[[operator]]\nname = \"pick\"\nmodule = {filter}\ninputs = [\"in\"]\nconfig = {{ field = \"value\", min = 0 }}\n[[operator]]\nname = \"score\"\nmodule = {spin}\ninputs = [\"pick\"]\nconfig = {{ iterations = 2000 }}\n[[sink]]\nname = \"out\"\nkind = \"discard\"\ninputs = [\"score\"]\n"
        )
    }

    /// A job with a 5 s target doing heavy work per event on four instances.
    pub(super) fn bulk(&self, name: &str, tenant: &str, source: &str) -> String {
        let spin = &self.spin;
        format!(
            "name = \"{name}\"\ntenant = \"{tenant}\"\nlatency_target_ms = 5000\n{source}\n[[operator]]\nname = \"crunch\"\nmodule = {spin}\ninputs = [\"in\"]\npartition = \"key-hash\"\nparallelism = 4\nconfig = {{ iterations = 60000 }}\n[[sink]]\nname = \"out\"\nkind = \"discard\"\ninputs = [\"crunch\"]\n"
        )
    }

    /// One job, one stream, two results: alerts (a filter passing one event in ten, output
    /// at once) and a rollup (one-second tumbling windows whose per-event work is heavy, output
    /// when each window closes). Window-aware priorities let the rollup's early-window work
    /// wait behind the alerts.
    pub(super) fn windowed(&self, source: &str) -> String {
        let (filter, rollup) = (&self.filter, &self.spin_window);
        format!(
            "name = \"windows\"\ntenant = \"analytics\"\nlatency_target_ms = 100\n{source}\n[[operator]]\nname = \"pick-alerts\"\nmodule = {filter}\ninputs = [\"in\"]\nconfig = {{ field = \"value\", min = 90 }}\n[[operator]]\nname = \"roll-up\"\nmodule = {rollup}\ninputs = [\"in\"]\npartition = \"key-hash\"\nparallelism = 4\nconfig = {{ iterations = 60000 }}\nwindow = {{ kind = \"tumbling\", size_ms = 1000 }}\n[[sink]]\nname = \"alerts\"\nkind = \"discard\"\ninputs = [\"pick-alerts\"]\n[[sink]]\nname = \"rollup\"\nkind = \"discard\"\ninputs = [\"roll-up\"]\n"
        )
    }

    /// A tenant whose calls never return on their own (each runs until its fuel budget is
    /// spent), on four instances, with a tiny latency target to claim priority.
    pub(super) fn runaway(&self) -> String {
        let spin = &self.spin;
        format!(
            "name = \"runaway\"\ntenant = \"hostile\"\nlatency_target_ms = 1\n{}\n[[operator]]\nname = \"spin\"\nmodule = {spin}\ninputs = [\"in\"]\npartition = \"key-hash\"\nparallelism = 4\nconfig = {{ iterations = 1000000000000000 }}\n[[sink]]\nname = \"out\"\nkind = \"discard\"\ninputs = [\"spin\"]\n",
            generator("in", 0.0, 64, 16, 5)
        )
    }
}
