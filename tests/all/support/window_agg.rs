//! Windowed jobs with the `window-agg` guest: their input, the job spec, the results the
//! guest emitted, and the results expected, computed here from the input.

use std::collections::BTreeMap;
use std::path::Path;

use cameo_host::JobOutcome;
use cameo_host::JobSpec;
use cameo_tests::guests;
use serde_json::Value;

use super::{Rng, parse, toml_path};

/// One input event.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Reading {
    pub key: String,
    pub time: i64,
    pub value: i64,
    pub seq: u64,
}

impl Reading {
    /// The event as an NDJSON line: key `k`, event time `t`, `value` and `seq`.
    pub fn json(&self) -> String {
        serde_json::json!({"k": self.key, "t": self.time, "value": self.value, "seq": self.seq})
            .to_string()
    }
}

/// The aggregate of one pane, as `window-agg` reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Totals {
    pub sum: i64,
    pub count: u64,
    pub min: i64,
    pub max: i64,
}

impl Totals {
    /// The totals of no values.
    pub const NONE: Totals = Totals {
        sum: 0,
        count: 0,
        min: i64::MAX,
        max: i64::MIN,
    };

    /// Adds `value` to the totals.
    pub fn add(&mut self, value: i64) {
        self.sum += value;
        self.count += 1;
        self.min = self.min.min(value);
        self.max = self.max.max(value);
    }

    /// The totals of `values`.
    pub fn of(values: impl IntoIterator<Item = i64>) -> Self {
        let mut totals = Totals::NONE;
        for value in values {
            totals.add(value);
        }
        totals
    }
}

/// (key, window start, window end).
pub type PaneId = (String, i64, i64);

/// How far arrival order strays from event-time order in [`shuffled_readings`], in ms.
const JITTER_MS: u64 = 150;
/// More than the jitter, so no event is ever late.
pub const SAFE_DELAY_MS: u64 = 200;

/// 300 readings over 5 keys with event times in [0, 2000), in a shuffled arrival order:
/// sorted by event time plus a random delay of up to `JITTER_MS`, so the input is out of
/// order by up to that much and windows still close while it is read.
pub fn shuffled_readings(seed: u64) -> Vec<Reading> {
    let mut rng = Rng(seed);
    let mut arrivals: Vec<(i64, usize, Reading)> = (0..300)
        .map(|i| {
            let reading = Reading {
                key: format!("key{}", rng.below(5)),
                time: rng.below(2000) as i64,
                value: rng.below(101) as i64 - 20,
                seq: i as u64,
            };
            let arrival = reading.time + rng.below(JITTER_MS) as i64;
            (arrival, i, reading)
        })
        .collect();
    arrivals.sort();
    let readings: Vec<Reading> = arrivals.into_iter().map(|(_, _, r)| r).collect();
    let out_of_order = readings
        .windows(2)
        .filter(|pair| pair[1].time < pair[0].time)
        .count();
    assert!(out_of_order > 50, "the input should be well shuffled");
    readings
}

/// Writes `readings` to `input.ndjson` in `dir`, the input of a [`window_job`].
pub fn write_input(dir: &Path, readings: &[Reading]) {
    let lines: Vec<String> = readings.iter().map(Reading::json).collect();
    std::fs::write(dir.join("input.ndjson"), lines.join("\n") + "\n").unwrap();
}

/// A windowed job: `input.ndjson` (NDJSON keyed by `k`, event time in `t`) → `agg`
/// (window-agg summing `value`, over a key-hash edge) → memory sink `out`.
pub struct WindowJob<'a> {
    /// The window, a TOML inline table; tumbling windows of 100 ms by default.
    pub window: &'a str,
    /// The source's watermark delay; [`SAFE_DELAY_MS`] by default.
    pub watermark_delay_ms: u64,
    /// The number of `agg` instances; 2 by default.
    pub parallelism: usize,
    /// Whether a memory sink `late` reads `agg:late`; without one, late events are dead
    /// letters. No by default.
    pub late_sink: bool,
}

impl Default for WindowJob<'_> {
    fn default() -> Self {
        WindowJob {
            window: r#"{ kind = "tumbling", size_ms = 100 }"#,
            watermark_delay_ms: SAFE_DELAY_MS,
            parallelism: 2,
            late_sink: false,
        }
    }
}

/// The job spec of `job`, in `dir`.
pub fn window_job(dir: &Path, job: WindowJob) -> JobSpec {
    let late = if job.late_sink {
        "[[sink]]\nname = \"late\"\nkind = \"memory\"\ninputs = [\"agg:late\"]\n"
    } else {
        ""
    };
    let toml = format!(
        r#"
name = "windows"
[[source]]
name = "in"
kind = "file"
path = "input.ndjson"
format = "ndjson"
key_field = "k"
event_time_field = "t"
watermark_delay_ms = {delay_ms}

[[operator]]
name = "agg"
module = {module}
inputs = ["in"]
partition = "key-hash"
parallelism = {parallelism}
config = {{ field = "value" }}
window = {window}

[[sink]]
name = "out"
kind = "memory"
inputs = ["agg"]
{late}"#,
        delay_ms = job.watermark_delay_ms,
        parallelism = job.parallelism,
        window = job.window,
        module = toml_path(guests::WINDOW_AGG),
    );
    parse(&toml, dir)
}

/// One result of `window-agg`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fired {
    pub pane: PaneId,
    pub totals: Totals,
}

/// The results `window-agg` wrote to the memory sink `sink`, in order, each checked for
/// consistency with the event carrying it: keyed by the pane's key, at the pane's last
/// millisecond.
pub fn fired(outcome: &JobOutcome, sink: &str) -> Vec<Fired> {
    let events = outcome.outputs.get(sink).map(Vec::as_slice).unwrap_or(&[]);
    events
        .iter()
        .map(|event| {
            let value: Value = serde_json::from_slice(&event.value).unwrap();
            let int = |name: &str| {
                value[name]
                    .as_i64()
                    .unwrap_or_else(|| panic!("`{name}` is not an integer in {value}"))
            };
            let key = value["key"].as_str().unwrap().to_string();
            let (start, end) = (int("window_start"), int("window_end"));
            assert_eq!(event.key.as_deref(), Some(key.as_bytes()), "{value}");
            assert_eq!(event.event_time, end - 1, "{value}");
            Fired {
                pane: (key, start, end),
                totals: Totals {
                    sum: int("sum"),
                    count: int("count") as u64,
                    min: int("min"),
                    max: int("max"),
                },
            }
        })
        .collect()
}

/// The last result emitted per pane.
pub fn last_per_pane(fired: &[Fired]) -> BTreeMap<PaneId, Totals> {
    fired
        .iter()
        .map(|fired| (fired.pane.clone(), fired.totals))
        .collect()
}

/// The reference for windows that each event belongs to by its time alone (tumbling and
/// sliding): `windows(t)` lists them.
pub fn fixed_reference(
    readings: &[Reading],
    windows: impl Fn(i64) -> Vec<(i64, i64)>,
) -> BTreeMap<PaneId, Totals> {
    let mut values: BTreeMap<PaneId, Vec<i64>> = BTreeMap::new();
    for reading in readings {
        for (start, end) in windows(reading.time) {
            values
                .entry((reading.key.clone(), start, end))
                .or_default()
                .push(reading.value);
        }
    }
    values
        .into_iter()
        .map(|(pane, values)| (pane, Totals::of(values)))
        .collect()
}

/// The reference for session windows with `gap`: per key, an event at `t` spans
/// `[t, t + gap)` and overlapping spans form one session.
pub fn session_reference(readings: &[Reading], gap: i64) -> BTreeMap<PaneId, Totals> {
    let mut by_key: BTreeMap<&str, Vec<(i64, i64)>> = BTreeMap::new();
    for reading in readings {
        by_key
            .entry(&reading.key)
            .or_default()
            .push((reading.time, reading.value));
    }
    let mut reference = BTreeMap::new();
    for (key, mut events) in by_key {
        events.sort();
        let mut session: Option<(i64, i64, Vec<i64>)> = None;
        for (time, value) in events {
            match &mut session {
                Some((_, end, values)) if time < *end => {
                    *end = (*end).max(time + gap);
                    values.push(value);
                }
                _ => {
                    if let Some((start, end, values)) = session.take() {
                        reference.insert((key.to_string(), start, end), Totals::of(values));
                    }
                    session = Some((time, time + gap, vec![value]));
                }
            }
        }
        if let Some((start, end, values)) = session {
            reference.insert((key.to_string(), start, end), Totals::of(values));
        }
    }
    reference
}
