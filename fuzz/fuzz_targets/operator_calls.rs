//! The WIT boundary: one instance of an example operator (filter, json-map, wordcount,
//! tumbling-sum, window-agg) given an arbitrary config, then a sequence of arbitrary batches
//! and timer calls, through the host's own call path (store, fuel slices, state transactions,
//! output checks). Guest traps and operator errors are results; the host must not panic, and
//! what it reports must hold together.
//!
//! The components are read once from `$CAMEO_GUESTS_DIR`, by default the directory the
//! integration tests build them into (`target/guests/wasm32-wasip2/release` of the
//! repository): run `cargo test -p cameo-tests --no-run` first.

#![no_main]

mod common;

use std::sync::Arc;

use arbitrary::{Arbitrary, Unstructured};
use cameo_host::internals::{
    Accounts, Batch, BatchKind, CallContext, CallInput, Record, Slot, TenantState, call, fresh_slot,
};
use cameo_host::{Event, Header};
use common::{FUEL_PER_CALL, STATE_BYTES, block_on, context, debug, limits, setup};
use libfuzzer_sys::fuzz_target;
use serde_json::{Map, Number, Value};

/// The operators, by the file name of their component.
const OPERATORS: [&str; 5] = [
    "filter",
    "json_map",
    "wordcount",
    "tumbling_sum",
    "window_agg",
];

/// Calls one input makes at most.
const MAX_STEPS: usize = 32;

/// Field names the example operators look for, so structured configs and events reach past
/// their first checks.
const FIELDS: [&str; 10] = [
    "field",
    "equals",
    "min",
    "size_ms",
    "fields",
    "rename",
    "key_field",
    "value",
    "key",
    "",
];

/// A field name: a known one, or any string.
#[derive(Debug)]
struct FieldName(String);

impl<'a> Arbitrary<'a> for FieldName {
    fn arbitrary(u: &mut Unstructured<'a>) -> arbitrary::Result<Self> {
        Ok(FieldName(if u.ratio(3, 4)? {
            (*u.choose(&FIELDS)?).to_string()
        } else {
            String::arbitrary(u)?
        }))
    }
}

/// A JSON value of bounded depth, with the numbers JSON allows at its edges.
#[derive(Debug)]
struct Json(Value);

impl Json {
    fn value(u: &mut Unstructured<'_>, depth: u32) -> arbitrary::Result<Value> {
        let choices = if depth == 0 { 6 } else { 8 };
        Ok(match u.choose_index(choices)? {
            0 => Value::Null,
            1 => Value::Bool(bool::arbitrary(u)?),
            2 => Value::Number(Number::from(i64::arbitrary(u)?)),
            3 => Value::Number(Number::from(u64::arbitrary(u)?)),
            4 => Number::from_f64(f64::arbitrary(u)?).map_or(Value::Null, Value::Number),
            5 => Value::String(String::arbitrary(u)?),
            6 => {
                let len = u.int_in_range(0..=4)?;
                Value::Array(
                    (0..len)
                        .map(|_| Json::value(u, depth - 1))
                        .collect::<arbitrary::Result<_>>()?,
                )
            }
            _ => {
                let len = u.int_in_range(0..=4)?;
                let mut object = Map::new();
                for _ in 0..len {
                    object.insert(FieldName::arbitrary(u)?.0, Json::value(u, depth - 1)?);
                }
                Value::Object(object)
            }
        })
    }
}

impl<'a> Arbitrary<'a> for Json {
    fn arbitrary(u: &mut Unstructured<'a>) -> arbitrary::Result<Self> {
        Ok(Json(Json::value(u, 3)?))
    }
}

/// What `init` receives.
#[derive(Debug, Arbitrary)]
enum Config {
    /// Any text, JSON or not.
    Raw(String),
    /// Any JSON value.
    Json(Json),
    /// An object of known and unknown fields.
    Fields(Vec<(FieldName, Json)>),
    /// A config the operator accepts, so that most calls get past `init`.
    Valid(Valid),
}

/// The values of a config each operator accepts: which of them it reads depends on the
/// operator.
#[derive(Debug, Arbitrary)]
struct Valid {
    field: FieldName,
    equals: Option<Json>,
    min: Option<i32>,
    fields: Option<Vec<FieldName>>,
    rename: Option<Vec<(FieldName, FieldName)>>,
    key_field: Option<FieldName>,
    /// Window length: any positive `i64`, mostly small ones.
    size_ms: u16,
    huge_size: Option<i64>,
}

impl Valid {
    fn value(&self, operator: &str) -> Value {
        let mut config = Map::new();
        let mut set = |name: &str, value: Value| {
            config.insert(name.to_string(), value);
        };
        match operator {
            "filter" => {
                set("field", Value::String(self.field.0.clone()));
                match (&self.equals, self.min) {
                    (None, None) => set("min", Value::from(0)),
                    (equals, min) => {
                        if let Some(equals) = equals {
                            set("equals", equals.0.clone());
                        }
                        if let Some(min) = min {
                            set("min", Value::from(min));
                        }
                    }
                }
            }
            "json_map" => {
                if let Some(fields) = &self.fields {
                    set(
                        "fields",
                        fields.iter().map(|f| Value::String(f.0.clone())).collect(),
                    );
                }
                if let Some(rename) = &self.rename {
                    set(
                        "rename",
                        Value::Object(
                            rename
                                .iter()
                                .map(|(from, to)| (from.0.clone(), Value::String(to.0.clone())))
                                .collect(),
                        ),
                    );
                }
                if let Some(key_field) = &self.key_field {
                    set("key_field", Value::String(key_field.0.clone()));
                }
            }
            "tumbling_sum" => {
                let size = match self.huge_size {
                    Some(size) => size.checked_abs().unwrap_or(i64::MAX).max(1),
                    None => i64::from(self.size_ms).max(1),
                };
                set("size_ms", Value::from(size));
                set("field", Value::String(self.field.0.clone()));
            }
            "window_agg" => set("field", Value::String(self.field.0.clone())),
            _ => {}
        }
        Value::Object(config)
    }
}

impl Config {
    fn text(&self, operator: &str) -> String {
        match self {
            Config::Raw(text) => text.clone(),
            Config::Json(json) => json.0.to_string(),
            Config::Fields(fields) => Value::Object(
                fields
                    .iter()
                    .map(|(name, value)| (name.0.clone(), value.0.clone()))
                    .collect(),
            )
            .to_string(),
            Config::Valid(valid) => valid.value(operator).to_string(),
        }
    }
}

/// An event value.
#[derive(Debug, Arbitrary)]
enum Payload {
    /// Any bytes.
    Bytes(Vec<u8>),
    /// Any text (wordcount splits it into words).
    Text(String),
    /// Any JSON value.
    Json(Json),
    /// An object with a number under a known field, as the aggregating operators want.
    Reading(FieldName, Json, Vec<(FieldName, Json)>),
}

impl Payload {
    fn bytes(&self) -> Vec<u8> {
        match self {
            Payload::Bytes(bytes) => bytes.clone(),
            Payload::Text(text) => text.clone().into_bytes(),
            Payload::Json(json) => json.0.to_string().into_bytes(),
            Payload::Reading(field, value, rest) => {
                let mut object: Map<String, Value> = rest
                    .iter()
                    .map(|(name, value)| (name.0.clone(), value.0.clone()))
                    .collect();
                object.insert(field.0.clone(), value.0.clone());
                Value::Object(object).to_string().into_bytes()
            }
        }
    }
}

#[derive(Debug, Arbitrary)]
struct FuzzEvent {
    key: Option<Vec<u8>>,
    value: Payload,
    event_time: i64,
    headers: Vec<(String, Vec<u8>)>,
}

impl FuzzEvent {
    fn event(&self) -> Event {
        Event {
            key: self.key.clone(),
            value: self.value.bytes(),
            event_time: self.event_time,
            headers: self
                .headers
                .iter()
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
    /// `process` with a batch.
    Batch(Vec<FuzzEvent>),
    /// `on-timer` with any key and time.
    Timer { key: Option<Vec<u8>>, time: i64 },
    /// `on-timer` for one of the timers the operator registered (by index, modulo their
    /// number), as the host would call it when the watermark passes.
    Registered(u16),
}

#[derive(Debug, Arbitrary)]
struct Input {
    operator: u8,
    config: Config,
    steps: Vec<Step>,
}

fuzz_target!(|input: Input| {
    let setup = setup(&OPERATORS);
    let limits = limits();
    let operator = usize::from(input.operator) % OPERATORS.len();
    let module = setup.modules[operator].clone();
    let tenant = TenantState::new("fuzz", STATE_BYTES);
    let accounts = Accounts {
        state: Arc::clone(&tenant),
        ..Accounts::unlimited()
    };
    let label = format!("fuzz/{}", module.name());
    let cx = CallContext {
        operator: Arc::from(label.as_str()),
        module,
        config: Arc::from(input.config.text(OPERATORS[operator])),
        limits: limits.clone(),
        window: None,
        join: None,
        accounts: accounts.clone(),
        convert_from: None,
    };
    let mut slot = fresh_slot(&setup.engine, &label, &accounts);
    let mut registered: Vec<(Option<Vec<u8>>, i64)> = Vec::new();
    if debug() {
        eprintln!("{label} with config {:?}", cx.config);
    }
    for step in input.steps.iter().take(MAX_STEPS) {
        let call_input = match step {
            Step::Batch(events) => CallInput::Batch {
                batch: Batch::new(
                    events
                        .iter()
                        .take(limits.batch_size)
                        .map(|event| Record::new(event.event(), context())),
                ),
                kind: BatchKind::Process,
            },
            Step::Timer { key, time } => CallInput::Timer {
                key: key.clone(),
                time: *time,
                context: context(),
            },
            Step::Registered(index) => {
                if registered.is_empty() {
                    continue;
                }
                let (key, time) = registered.swap_remove(usize::from(*index) % registered.len());
                CallInput::Timer {
                    key,
                    time,
                    context: context(),
                }
            }
        };
        let done = block_on(call::start(slot, call_input, cx.clone()));
        if debug() {
            let outcome = match &done.result {
                Ok(output) => format!(
                    "{} events out, {} timers registered",
                    output.events.len(),
                    output.timers.len()
                ),
                Err(failure) => format!("failed: {failure}"),
            };
            eprintln!("  {step:?}\n    -> {outcome} ({} fuel)", done.fuel);
        }
        assert!(
            done.fuel <= FUEL_PER_CALL,
            "burned {} fuel of a {FUEL_PER_CALL} budget",
            done.fuel
        );
        assert!(
            tenant.held() <= STATE_BYTES,
            "the tenant holds {} bytes of state over its quota of {STATE_BYTES}",
            tenant.held()
        );
        match &done.result {
            Ok(output) => {
                assert!(output.events.len() <= limits.max_output_events);
                assert!(output.late.is_empty(), "late events outside a window");
                registered.extend(output.timers.iter().cloned());
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
        if let Some(instance) = &done.instance {
            let held = instance.held().state.bytes();
            assert!(
                held <= STATE_BYTES,
                "the instance holds {held} bytes of state over its quota of {STATE_BYTES}"
            );
        }
        if let Some(reason) = &done.fatal {
            // `init` refused the config or the instance could not start: the job would end.
            assert!(!reason.trim().is_empty());
            return;
        }
        slot = match done.instance {
            Some(instance) => Slot::Live(Box::new(instance)),
            // A trap: the host re-creates the instance.
            None => fresh_slot(&setup.engine, &label, &accounts),
        };
    }
});
