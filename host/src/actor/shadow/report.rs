//! What a shadow run found: outputs of the two versions compared per input and key, the first
//! differing pairs, both versions' cost per event and call latency, and the shadow's failures.
//!
//! Everything kept is bounded: at most [`MAX_KEYS`] keys are counted one by one (the rest
//! together), at most [`MAX_DIFFERENCES`] differing pairs and [`MAX_FAILURES`] failure
//! reasons are kept, and a kept value is cut to [`MAX_VALUE_BYTES`].

use std::collections::BTreeMap;
use std::time::Duration;

use hdrhistogram::Histogram;

use crate::bindings::Event;

/// Keys whose outputs are counted one by one; outputs of further keys are counted together.
pub const MAX_KEYS: usize = 1000;
/// Differing output pairs kept, the first ones found.
pub const MAX_DIFFERENCES: usize = 20;
/// Failure reasons of the shadow kept, the first ones.
pub const MAX_FAILURES: usize = 10;
/// Bytes of an output's value kept in a differing pair; longer values are cut.
pub const MAX_VALUE_BYTES: usize = 512;

/// A shadow run's report.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ShadowReport {
    /// The operator.
    pub operator: String,
    /// The module the operator runs (the primary).
    pub primary: String,
    /// The module the shadow runs.
    pub shadow: String,
    /// The checkpoint barrier at which the shadow took a copy of the operator's state (the
    /// first at or after this one, per instance).
    pub from_checkpoint: u64,
    /// The operator's instances, and how many of them have a running shadow.
    pub instances: usize,
    /// Instances whose shadow took its copy of the state and runs.
    pub instances_started: usize,
    /// Why the run stopped, once it has (stopped by the user, fell behind, could not start).
    pub stopped: Option<String>,
    /// Output pairs that were equal (key, value, event time and headers).
    pub matched: u64,
    /// Output pairs that differed, or outputs that one version made and the other did not.
    pub differing: u64,
    /// Per key (as UTF-8, lossy; `null` for unkeyed outputs), in key order.
    pub keys: Vec<KeyCounts>,
    /// Outputs of keys beyond the first [`MAX_KEYS`], counted together.
    pub other_keys: KeyCounts,
    /// The first differing pairs, in the order they were found.
    pub differences: Vec<Difference>,
    /// What each version cost while the shadow ran.
    pub cost: Costs,
    /// Calls of the shadow that failed (traps, fuel, refused input), and its events that a
    /// job would have sent to its dead letters; never the job's own dead letters.
    pub failures: u64,
    /// The first failure reasons.
    pub first_failures: Vec<String>,
    /// Bytes of input and output the shadow is behind its primary by, over all instances.
    pub behind_bytes: u64,
}

/// Outputs of one key.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct KeyCounts {
    /// The key, as UTF-8 (lossy); `None` for unkeyed outputs (and for the other keys).
    pub key: Option<String>,
    /// Output pairs that were equal.
    pub matched: u64,
    /// Output pairs that differed, or outputs only one version made.
    pub differing: u64,
}

/// One differing pair: what each version made, in the same place of the same input's output
/// for the same key.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Difference {
    /// The key (lossy UTF-8), `None` when unkeyed.
    pub key: Option<String>,
    /// What the primary made there, if anything.
    pub primary: Option<OutputView>,
    /// What the shadow made there, if anything.
    pub shadow: Option<OutputView>,
}

/// An output as a report shows it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct OutputView {
    /// The value, as UTF-8 (lossy), cut to [`MAX_VALUE_BYTES`].
    pub value: String,
    /// Its event time.
    pub event_time: i64,
    /// Its headers, `name=value` (lossy UTF-8).
    pub headers: Vec<String>,
}

/// Both versions' costs.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct Costs {
    /// The version the operator runs.
    pub primary: Cost,
    /// The shadow.
    pub shadow: Cost,
}

/// One version's calls while the shadow ran.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct Cost {
    /// Calls made (batches, timers, window firings).
    pub calls: u64,
    /// Events taken in by those calls.
    pub events: u64,
    /// Fuel burned per event taken in.
    pub fuel_per_event: f64,
    /// Microseconds the calls ran (on a worker, parked time excluded) per event taken in.
    pub us_per_event: f64,
    /// Wall-clock time of a call from its start to its end (parked time included), in
    /// microseconds.
    pub call_us: Percentiles,
}

/// A distribution's landmarks.
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize)]
pub struct Percentiles {
    /// Median.
    pub p50: u64,
    /// 99th percentile.
    pub p99: u64,
    /// Largest.
    pub max: u64,
}

/// Which version made something.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Side {
    /// The version the operator runs.
    Primary,
    /// The shadow.
    Shadow,
}

/// One version's calls, as they are added up.
#[derive(Default)]
struct CostTally {
    calls: u64,
    events: u64,
    fuel: u64,
    ran: Duration,
    /// Microseconds; created at the first call.
    latency: Option<Histogram<u64>>,
}

impl CostTally {
    fn cost(&self) -> Cost {
        let per_event = |total: f64| {
            if self.events == 0 {
                0.0
            } else {
                total / self.events as f64
            }
        };
        Cost {
            calls: self.calls,
            events: self.events,
            fuel_per_event: per_event(self.fuel as f64),
            us_per_event: per_event(self.ran.as_secs_f64() * 1e6),
            call_us: self
                .latency
                .as_ref()
                .map_or_else(Percentiles::default, |h| Percentiles {
                    p50: h.value_at_quantile(0.5),
                    p99: h.value_at_quantile(0.99),
                    max: h.max(),
                }),
        }
    }
}

/// A run's findings as they are added up, behind the run's lock.
#[derive(Default)]
pub(crate) struct Tally {
    matched: u64,
    differing: u64,
    keys: BTreeMap<Option<Vec<u8>>, KeyCounts>,
    other_keys: KeyCounts,
    differences: Vec<Difference>,
    primary: CostTally,
    shadow: CostTally,
    failures: u64,
    first_failures: Vec<String>,
}

/// What each version made for one key of one input, in order.
type Pair = (Vec<Event>, Vec<Event>);

/// One finished call, for the cost figures.
pub(crate) struct CallCost {
    /// Events it took in.
    pub events: u64,
    /// Fuel it burned.
    pub fuel: u64,
    /// Time it ran on a worker.
    pub ran: Duration,
    /// From its start to its end.
    pub wall: Duration,
}

impl Tally {
    /// Adds a finished call of `side`.
    pub(crate) fn add_call(&mut self, side: Side, call: &CallCost) {
        let tally = match side {
            Side::Primary => &mut self.primary,
            Side::Shadow => &mut self.shadow,
        };
        tally.calls += 1;
        tally.events += call.events;
        tally.fuel += call.fuel;
        tally.ran += call.ran;
        if tally.latency.is_none() {
            tally.latency = Histogram::new(3).ok();
        }
        if let Some(histogram) = &mut tally.latency {
            crate::metrics::record(histogram, call.wall.as_micros() as u64);
        }
    }

    /// Adds a failure of the shadow.
    pub(crate) fn add_failure(&mut self, reason: &str) {
        self.failures += 1;
        if self.first_failures.len() < MAX_FAILURES {
            self.first_failures.push(reason.to_string());
        }
    }

    /// Compares what the two versions made for one input: per key, the n-th output of one
    /// with the n-th of the other.
    pub(crate) fn compare(&mut self, primary: Vec<Event>, shadow: Vec<Event>) {
        let mut by_key: BTreeMap<Option<Vec<u8>>, Pair> = BTreeMap::new();
        for event in primary {
            by_key.entry(event.key.clone()).or_default().0.push(event);
        }
        for event in shadow {
            by_key.entry(event.key.clone()).or_default().1.push(event);
        }
        for (key, (primary, shadow)) in by_key {
            let pairs = primary.len().max(shadow.len());
            let mut primary = primary.into_iter();
            let mut shadow = shadow.into_iter();
            for _ in 0..pairs {
                let (p, s) = (primary.next(), shadow.next());
                let same = matches!((&p, &s), (Some(p), Some(s)) if p == s);
                self.count(&key, same);
                if !same && self.differences.len() < MAX_DIFFERENCES {
                    self.differences.push(Difference {
                        key: key.as_deref().map(lossy),
                        primary: p.as_ref().map(view),
                        shadow: s.as_ref().map(view),
                    });
                }
            }
        }
    }

    fn count(&mut self, key: &Option<Vec<u8>>, same: bool) {
        if same {
            self.matched += 1;
        } else {
            self.differing += 1;
        }
        if !self.keys.contains_key(key) && self.keys.len() < MAX_KEYS {
            self.keys.insert(
                key.clone(),
                KeyCounts {
                    key: key.as_deref().map(lossy),
                    ..KeyCounts::default()
                },
            );
        }
        let counts = match self.keys.get_mut(key) {
            Some(counts) => counts,
            None => &mut self.other_keys,
        };
        if same {
            counts.matched += 1;
        } else {
            counts.differing += 1;
        }
    }

    /// The report's findings (the run fills in the rest).
    pub(crate) fn findings(&self) -> Findings {
        Findings {
            matched: self.matched,
            differing: self.differing,
            keys: self.keys.values().cloned().collect(),
            other_keys: self.other_keys.clone(),
            differences: self.differences.clone(),
            cost: Costs {
                primary: self.primary.cost(),
                shadow: self.shadow.cost(),
            },
            failures: self.failures,
            first_failures: self.first_failures.clone(),
        }
    }
}

/// The part of a report the tally knows.
pub(crate) struct Findings {
    pub matched: u64,
    pub differing: u64,
    pub keys: Vec<KeyCounts>,
    pub other_keys: KeyCounts,
    pub differences: Vec<Difference>,
    pub cost: Costs,
    pub failures: u64,
    pub first_failures: Vec<String>,
}

fn lossy(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn view(event: &Event) -> OutputView {
    let value = &event.value[..event.value.len().min(MAX_VALUE_BYTES)];
    OutputView {
        value: lossy(value),
        event_time: event.event_time,
        headers: event
            .headers
            .iter()
            .map(|h| format!("{}={}", h.name, lossy(&h.value)))
            .collect(),
    }
}
