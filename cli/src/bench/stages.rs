//! What each stage of the data path costs per event: a ladder of pipelines on one worker,
//! each adding one stage to the one before (source and sink; the call into a filter guest;
//! key-hash routing to two instances; a host-managed window in place of the filter), run in
//! turn in every round so that the differences are measured side by side. The guest's share
//! of the call comes from its fuel and the host's measured nanoseconds per unit of fuel.

use std::path::Path;

use indicatif::ProgressBar;
use serde::Serialize;

use super::{BenchError, example_operator, median};
use cameo_host::{Host, JobSpec, PolicyKind, RunOptions, run_job};

/// One rung of the ladder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Rung {
    /// generator -> discard.
    Source,
    /// generator -> filter -> discard.
    Call,
    /// generator -> filter (key-hash, 2 instances) -> discard.
    KeyHash,
    /// generator -> window-agg (key-hash, 2 instances, tumbling 1 s) -> discard.
    Window,
}

const RUNGS: [Rung; 4] = [Rung::Source, Rung::Call, Rung::KeyHash, Rung::Window];

impl Rung {
    fn name(self) -> &'static str {
        match self {
            Rung::Source => "generator -> discard",
            Rung::Call => "generator -> filter -> discard",
            Rung::KeyHash => "generator -> filter x2 (key-hash) -> discard",
            Rung::Window => "generator -> window-agg x2 (key-hash, tumbling 1 s) -> discard",
        }
    }

    /// The job, over `events` exact events.
    fn spec(self, filter: &Path, window: &Path, events: u64) -> String {
        let source = format!(
            r#"
name = "stages"
tenant = "bench"
latency_target_ms = 1000
[[source]]
name = "seq"
kind = "generator"
mode = "exact"
count = {events}
keys = 1000
event_rate = 1000000
"#
        );
        let operator = match self {
            Rung::Source => String::new(),
            Rung::Call | Rung::KeyHash => {
                let spread = if self == Rung::KeyHash {
                    "partition = \"key-hash\"\nparallelism = 2\n"
                } else {
                    ""
                };
                format!(
                    "[[operator]]\nname = \"op\"\nmodule = {:?}\ninputs = [\"seq\"]\n{spread}\
                     config = {{ field = \"value\", min = 0 }}\n",
                    filter.display().to_string()
                )
            }
            Rung::Window => format!(
                "[[operator]]\nname = \"op\"\nmodule = {:?}\ninputs = [\"seq\"]\n\
                 partition = \"key-hash\"\nparallelism = 2\n\
                 window = {{ kind = \"tumbling\", size_ms = 1000 }}\n",
                window.display().to_string()
            ),
        };
        let input = if self == Rung::Source { "seq" } else { "op" };
        format!(
            "{source}{operator}[[sink]]\nname = \"out\"\nkind = \"discard\"\ninputs = [\"{input}\"]\n"
        )
    }
}

/// One pipeline's figures (medians over the rounds).
#[derive(Debug, Clone, Serialize)]
pub struct RungRow {
    /// The pipeline.
    pub pipeline: String,
    /// Events per second through the whole pipeline on one worker.
    pub events_per_s: f64,
    /// Nanoseconds per event through the whole pipeline.
    pub ns_per_event: f64,
    /// Fuel the guest burned per event.
    pub fuel_per_event: f64,
}

/// One stage's cost: the difference between two rungs.
#[derive(Debug, Clone, Serialize)]
pub struct StageRow {
    /// The stage.
    pub stage: String,
    /// Nanoseconds it adds per event.
    pub ns_per_event: f64,
    /// The events per second one core could push through this stage alone.
    pub events_per_s_per_core: f64,
}

/// The report of `cameo bench stages`.
#[derive(Debug, Clone, Serialize)]
pub struct StagesReport {
    /// Events per run.
    pub events: u64,
    /// Rounds (every pipeline once per round).
    pub rounds: usize,
    /// Nanoseconds per unit of fuel on this machine.
    pub ns_per_fuel: f64,
    /// The pipelines.
    pub pipelines: Vec<RungRow>,
    /// The stages, from the differences between pipelines.
    pub stages: Vec<StageRow>,
}

impl std::fmt::Display for StagesReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "the data path stage by stage, one worker, {} exact events, median of {} rounds:",
            self.events, self.rounds
        )?;
        writeln!(
            f,
            "  {:<66} {:>12} {:>9} {:>7}",
            "pipeline", "events/s", "ns/event", "fuel"
        )?;
        for row in &self.pipelines {
            writeln!(
                f,
                "  {:<66} {:>12.0} {:>9.0} {:>7.0}",
                row.pipeline, row.events_per_s, row.ns_per_event, row.fuel_per_event
            )?;
        }
        writeln!(f, "  {:<66} {:>12} {:>9}", "stage", "ev/s/core", "ns/event")?;
        for row in &self.stages {
            writeln!(
                f,
                "  {:<66} {:>12.0} {:>9.0}",
                row.stage, row.events_per_s_per_core, row.ns_per_event
            )?;
        }
        write!(
            f,
            "  (guest time is fuel x {:.3} ns per unit of fuel, measured at start)",
            self.ns_per_fuel
        )
    }
}

fn stage(name: &str, ns_per_event: f64) -> StageRow {
    StageRow {
        stage: name.to_string(),
        ns_per_event,
        events_per_s_per_core: if ns_per_event > 0.0 {
            1e9 / ns_per_event
        } else {
            f64::INFINITY
        },
    }
}

/// Runs every pipeline `rounds` times over `events` events each.
pub fn run(operators: &Path, events: u64, rounds: usize) -> Result<StagesReport, BenchError> {
    let filter = example_operator(operators, "filter")?;
    let window = example_operator(operators, "window-agg")?;
    let options = RunOptions {
        workers: 1,
        policy: PolicyKind::Edf,
        ..RunOptions::default()
    };
    let ns_per_fuel = Host::new(options.clone())?.ns_per_fuel();
    let specs = RUNGS
        .iter()
        .map(|rung| {
            JobSpec::parse(
                &rung.spec(&filter, &window, events),
                "stages.toml",
                std::env::temp_dir(),
            )
        })
        .collect::<Result<Vec<_>, _>>()?;
    let progress = ProgressBar::new((rounds * RUNGS.len()) as u64).with_message("stages");
    let mut eps: Vec<Vec<f64>> = vec![Vec::new(); RUNGS.len()];
    let mut fuel: Vec<Vec<f64>> = vec![Vec::new(); RUNGS.len()];
    for _ in 0..rounds {
        for (rung, spec) in specs.iter().enumerate() {
            let summary = run_job(spec, &options)?.summary;
            eps[rung].push(events as f64 / summary.elapsed_s.max(1e-9));
            fuel[rung].push(summary.fuel as f64 / events.max(1) as f64);
            progress.inc(1);
        }
    }
    progress.finish_and_clear();
    let pipelines: Vec<RungRow> = RUNGS
        .iter()
        .zip(eps.iter_mut().zip(fuel.iter_mut()))
        .map(|(rung, (eps, fuel))| {
            let events_per_s = median(eps);
            RungRow {
                pipeline: rung.name().to_string(),
                events_per_s,
                ns_per_event: 1e9 / events_per_s.max(1e-9),
                fuel_per_event: median(fuel),
            }
        })
        .collect();
    // The pipelines are in `RUNGS` order.
    let row = |rung: Rung| {
        RUNGS
            .iter()
            .position(|r| *r == rung)
            .and_then(|i| pipelines.get(i))
    };
    let ns = |rung: Rung| row(rung).map_or(0.0, |row| row.ns_per_event);
    let fuel_of = |rung: Rung| row(rung).map_or(0.0, |row| row.fuel_per_event);
    let call = ns(Rung::Call) - ns(Rung::Source);
    let filter_guest = fuel_of(Rung::Call) * ns_per_fuel;
    let window_guest = fuel_of(Rung::Window) * ns_per_fuel;
    let stages = vec![
        stage(
            "source and sink (exact generator, discard)",
            ns(Rung::Source),
        ),
        stage(
            "call boundary (filter, less its guest time)",
            call - filter_guest,
        ),
        stage("filter guest (fuel x ns per fuel)", filter_guest),
        stage(
            "key-hash routing to 2 instances",
            ns(Rung::KeyHash) - ns(Rung::Call),
        ),
        stage(
            "window state and its calls (in place of the filter, less guest time)",
            ns(Rung::Window) - ns(Rung::KeyHash) - (window_guest - filter_guest),
        ),
        stage("window-agg guest (fuel x ns per fuel)", window_guest),
    ];
    Ok(StagesReport {
        events,
        rounds,
        ns_per_fuel,
        pipelines,
        stages,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_rung_is_a_valid_spec() {
        let dir = std::env::temp_dir();
        for rung in RUNGS {
            let text = rung.spec(Path::new("/f.wasm"), Path::new("/w.wasm"), 10);
            JobSpec::parse(&text, "stages.toml", dir.clone())
                .unwrap_or_else(|err| panic!("{}: {err}\n{text}", rung.name()));
        }
    }
}
