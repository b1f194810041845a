//! The windowed exports: one instance of a windowed example operator (`window-agg`, and the
//! test guest `hostile-window`, whose accumulators grow with every event) under an arbitrary
//! tumbling, sliding or session window, given arbitrary configs, then a sequence of window
//! batches (folded into their panes with the packed `accumulate`, or `merge` and `accumulate`
//! when sessions merge), `process` batches (the packed `process`), watermarks (expiring panes
//! and firing the due ones with `fire`, as the actor does) and timers, all through the host's
//! own call path with a small job memory budget. Guest traps, operator errors and budget
//! refusals are results; the host must not panic, and what it holds must add up.
//!
//! The components are read once from `$CAMEO_GUESTS_DIR`, by default the directory the
//! integration tests build them into (`target/guests/wasm32-wasip2/release` of the
//! repository): run `cargo test -p cameo-tests --no-run` first.

#![no_main]

mod common;

use std::sync::Arc;

use arbitrary::Arbitrary;
use cameo_host::internals::{
    Accounts, Batch, BatchKind, CallContext, CallInput, Held, Lateness, MemoryBudget, PaneKey,
    Record, Slot, TenantState, WindowDef, WindowKind, call, fresh_window_slot,
};
use cameo_host::{BudgetConfig, Event, Header};
use common::{FUEL_PER_CALL, STATE_BYTES, block_on, context, debug, limits, setup};
use libfuzzer_sys::fuzz_target;
use serde_json::json;

/// The windowed operators, by the file name of their component.
const OPERATORS: [&str; 2] = ["window_agg", "hostile_window"];

/// Panes fired in one call.
const FIRE_BATCH: usize = 4;

/// Calls one input makes at most (fire calls included).
const MAX_CALLS: usize = 48;

/// The most windows one event may fall in: the spec's validation refuses more.
const MAX_WINDOWS_PER_EVENT: i64 = 1000;

/// A window definition the spec's validation would accept.
#[derive(Debug, Arbitrary)]
struct Window {
    kind: u8,
    size: u16,
    slide: u16,
    gap: u16,
    lateness: u16,
}

impl Window {
    fn def(&self) -> WindowDef {
        let size = i64::from(self.size).max(1);
        let allowed_lateness = i64::from(self.lateness % 2000);
        match self.kind % 3 {
            0 => WindowDef {
                kind: WindowKind::Tumbling,
                size,
                slide: size,
                gap: 0,
                allowed_lateness,
            },
            1 => {
                let fewest = (size + MAX_WINDOWS_PER_EVENT - 1) / MAX_WINDOWS_PER_EVENT;
                WindowDef {
                    kind: WindowKind::Sliding,
                    size,
                    slide: i64::from(self.slide).clamp(fewest, size),
                    gap: 0,
                    allowed_lateness,
                }
            }
            _ => WindowDef {
                kind: WindowKind::Session,
                size: 0,
                slide: 0,
                gap: i64::from(self.gap).max(1),
                allowed_lateness,
            },
        }
    }
}

/// What `init` receives.
#[derive(Debug, Arbitrary)]
enum Config {
    /// Any text, JSON or not.
    Raw(String),
    /// The field `window-agg` reads, and the bytes per event `hostile-window` adds.
    Valid { field: Option<String>, bytes: u16 },
}

impl Config {
    fn text(&self) -> String {
        match self {
            Config::Raw(text) => text.clone(),
            Config::Valid { field, bytes } => {
                json!({ "field": field.as_deref().unwrap_or("value"), "bytes": bytes }).to_string()
            }
        }
    }
}

/// An event value: mostly a reading `window-agg` can fold.
#[derive(Debug, Arbitrary)]
enum Payload {
    Int(i64),
    Float(f64),
    Named(String, i64),
    Bytes(Vec<u8>),
}

impl Payload {
    fn bytes(&self) -> Vec<u8> {
        let value = match self {
            Payload::Int(n) => json!({ "value": n }),
            Payload::Float(x) => json!({ "value": x }),
            Payload::Named(field, n) => json!({ field.as_str(): n }),
            Payload::Bytes(bytes) => return bytes.clone(),
        };
        value.to_string().into_bytes()
    }
}

/// When an event happens: mostly near the watermark, sometimes anywhere.
#[derive(Debug, Arbitrary)]
enum Time {
    Near(i16),
    Any(i64),
}

#[derive(Debug, Arbitrary)]
struct WindowEvent {
    /// One of a few keys, none, or any bytes.
    key: Option<u8>,
    any_key: Option<Vec<u8>>,
    value: Payload,
    time: Time,
    headers: Vec<(String, Vec<u8>)>,
}

impl WindowEvent {
    fn event(&self, watermark: i64) -> Event {
        let key = match (&self.any_key, self.key) {
            (Some(key), _) => Some(key.clone()),
            (None, Some(k)) => Some(vec![b'k', b'0' + k % 4]),
            (None, None) => None,
        };
        let event_time = match self.time {
            Time::Near(offset) => watermark.max(0).saturating_add(i64::from(offset)),
            Time::Any(t) => t,
        };
        Event {
            key,
            value: self.value.bytes(),
            event_time,
            headers: self
                .headers
                .iter()
                .take(4)
                .map(|(name, value)| Header {
                    name: name.clone(),
                    value: value.clone(),
                })
                .collect(),
        }
    }
}

#[derive(Debug, Arbitrary)]
enum Step {
    /// A window batch: `accumulate` (and `merge` for sessions), refiring fired panes.
    Window(Vec<WindowEvent>),
    /// A `process` batch, which a windowed operator refuses.
    Process(Vec<WindowEvent>),
    /// The watermark moves on by this much: expired panes are dropped and due panes fire.
    Advance(u16),
    /// The watermark jumps to the end of time, as at the end of input.
    End,
    /// `on-timer` with any key and time.
    Timer { key: Option<Vec<u8>>, time: i64 },
}

#[derive(Debug, Arbitrary)]
struct Input {
    operator: u8,
    window: Window,
    config: Config,
    /// The job's memory budget, as a choice of a few sizes.
    budget: u8,
    steps: Vec<Step>,
}

/// One operator instance as the actor keeps it: live, or what the host held for it after
/// its last instance trapped.
struct Run {
    cx: CallContext,
    def: WindowDef,
    label: String,
    slot: Option<Slot>,
    held: Held,
    calls: usize,
}

impl Run {
    fn held_mut(&mut self) -> &mut Held {
        match &mut self.slot {
            Some(Slot::Live(instance)) => instance.held_mut(),
            _ => &mut self.held,
        }
    }

    /// Makes one call; false once the job would end (`init` refused, or no calls left).
    fn call(&mut self, input: CallInput, batch_len: usize) -> bool {
        if self.calls >= MAX_CALLS {
            return false;
        }
        self.calls += 1;
        let slot = match self.slot.take() {
            Some(slot) => slot,
            None => fresh_window_slot(
                &setup(&OPERATORS).engine,
                &self.label,
                std::mem::take(&mut self.held),
                self.def,
                &self.cx.accounts,
            ),
        };
        let described = debug().then(|| describe(&input));
        let done = block_on(call::start(slot, input, self.cx.clone()));
        if let Some(described) = described {
            let outcome = match &done.result {
                Ok(output) => format!(
                    "{} events out, {} late",
                    output.events.len(),
                    output.late.len()
                ),
                Err(failure) => format!("failed: {failure}"),
            };
            eprintln!("  {described}\n    -> {outcome} ({} fuel)", done.fuel);
        }
        assert!(
            done.fuel <= FUEL_PER_CALL,
            "burned {} fuel of a {FUEL_PER_CALL} budget",
            done.fuel
        );
        match &done.result {
            Ok(output) => {
                assert!(output.events.len() <= self.cx.limits.max_output_events);
                for late in &output.late {
                    assert!(late.position < batch_len, "late event past the batch");
                    // Late for windows it missed, or in no window the host can represent.
                    assert_eq!(
                        late.missed.is_empty(),
                        late.why == Lateness::NoWindow,
                        "{late:?}"
                    );
                }
                // What a successful call returns is routed, and no longer charged to it.
                self.cx.accounts.budget.release(output.charged);
            }
            Err(failure) => {
                assert!(!failure.to_string().trim().is_empty(), "{failure:?}");
                assert_eq!(
                    done.instance.is_none(),
                    failure.poisons_instance(),
                    "{failure}"
                );
            }
        }
        if let Some(reason) = &done.fatal {
            assert!(!reason.trim().is_empty());
            return false;
        }
        match done.instance {
            Some(instance) => self.slot = Some(Slot::Live(Box::new(instance))),
            None => {
                self.held = done.orphaned.unwrap_or_default();
                self.slot = None;
            }
        }
        let windows = &self.held_mut().windows;
        let mut recounted = windows.clone();
        recounted.recount();
        assert_eq!(
            windows.bytes(),
            recounted.bytes(),
            "the panes' byte count drifted from what they hold"
        );
        true
    }

    /// The watermark reached `watermark`: drops what expired and fires what is due, as the
    /// actor does.
    fn advance(&mut self, watermark: i64) -> bool {
        let def = self.def;
        let windows = &mut self.held_mut().windows;
        windows.expire(&def, watermark);
        let due: Vec<PaneKey> = windows.due(watermark);
        for pane in &due {
            windows.mark_fired(pane);
        }
        // Several panes per call, as the actor fires the panes one watermark made due.
        for panes in due.chunks(FIRE_BATCH) {
            let input = CallInput::Fire {
                panes: panes.to_vec(),
                context: context(),
            };
            if !self.call(input, 0) {
                return false;
            }
        }
        true
    }
}

fn describe(input: &CallInput) -> String {
    match input {
        CallInput::Batch { batch, kind } => format!("{kind:?} of {} events", batch.len()),
        CallInput::Fire { panes, .. } => format!("fire {panes:?}"),
        CallInput::Timer { key, time, .. } => format!("on-timer {key:?} at {time}"),
    }
}

fn batch(events: &[WindowEvent], watermark: i64, size: usize) -> Batch {
    Batch::new(
        events
            .iter()
            .take(size)
            .map(|event| Record::new(event.event(watermark), context())),
    )
}

fuzz_target!(|input: Input| {
    let setup = setup(&OPERATORS);
    let limits = limits();
    let operator = usize::from(input.operator) % OPERATORS.len();
    let module = setup.modules[operator].clone();
    let job_bytes = [1u64 << 20, 24 << 20, 256 << 20][usize::from(input.budget % 3)];
    let budget = MemoryBudget::new(BudgetConfig {
        host_bytes: job_bytes,
        tenant_bytes: job_bytes,
        job_bytes,
    });
    let accounts = Accounts {
        budget: budget.for_job("fuzz", "fuzz"),
        state: TenantState::new("fuzz", STATE_BYTES),
    };
    let label = format!("fuzz/{}", module.name());
    let def = input.window.def();
    let mut run = Run {
        cx: CallContext {
            operator: Arc::from(label.as_str()),
            module,
            config: Arc::from(input.config.text()),
            limits: limits.clone(),
            window: Some(def),
            join: None,
            accounts,
            convert_from: None,
        },
        def,
        label,
        slot: None,
        held: Held::default(),
        calls: 0,
    };
    if debug() {
        eprintln!("{} with config {:?} in {def:?}", run.label, run.cx.config);
    }
    let mut watermark = i64::MIN;
    for step in &input.steps {
        let going = match step {
            Step::Window(events) => {
                let batch = batch(events, watermark, limits.batch_size);
                let len = batch.len();
                let kind = BatchKind::Window { watermark };
                run.call(CallInput::Batch { batch, kind }, len)
            }
            Step::Process(events) => {
                let batch = batch(events, watermark, limits.batch_size);
                let len = batch.len();
                let kind = BatchKind::Process;
                run.call(CallInput::Batch { batch, kind }, len)
            }
            Step::Advance(by) => {
                watermark = watermark.max(0).saturating_add(i64::from(*by));
                run.advance(watermark)
            }
            Step::End => {
                watermark = i64::MAX;
                run.advance(watermark)
            }
            Step::Timer { key, time } => {
                let input = CallInput::Timer {
                    key: key.clone(),
                    time: *time,
                    context: context(),
                };
                run.call(input, 0)
            }
        };
        if !going {
            break;
        }
    }
});
