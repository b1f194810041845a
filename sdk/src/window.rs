//! Host-managed windows: the [`WindowOperator`] trait and the glue behind
//! [`export_windowed!`](crate::export_windowed).

use core::marker::PhantomData;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::acc_codec::{decode, encode};
use crate::bindings::exports::cameo::operator::handler;
use crate::bindings::windowed_world::exports::cameo::operator::windowed;
use crate::export::{init_instance, with_instance};
use crate::{Config, Error, Event, Output, Result};

/// A window of event time: the half-open interval `[start, end)` in milliseconds since the
/// Unix epoch.
///
/// ```
/// use cameo_sdk::Window;
///
/// let window = Window::new(60_000, 120_000);
/// assert!(window.contains(60_000) && window.contains(119_999) && !window.contains(120_000));
/// assert_eq!(window.len_ms(), 60_000);
/// assert_eq!(window.max_time(), 119_999);
/// ```
pub use crate::bindings::cameo::operator::types::Window;

/// One (key, window) pane handed to `accumulate`, with its accumulator so far. Only the
/// export glue uses it.
#[doc(hidden)]
pub use windowed::Pane;

impl Window {
    /// The window `[start, end)`.
    pub fn new(start: i64, end: i64) -> Self {
        Window { start, end }
    }

    /// Its length in milliseconds, `end - start`.
    pub fn len_ms(&self) -> i64 {
        self.end.saturating_sub(self.start)
    }

    /// Whether event time `time` lies inside it.
    pub fn contains(&self, time: i64) -> bool {
        self.start <= time && time < self.end
    }

    /// Its last millisecond, `end - 1`: the usual event time of a pane's result. The host
    /// fires a pane once the watermark reaches this time, so a result carrying it is not late
    /// for the operators downstream.
    pub fn max_time(&self) -> i64 {
        self.end.saturating_sub(1)
    }
}

/// An operator whose windows the host manages: it only says how events fold into a pane's
/// accumulator and what a complete pane emits.
///
/// The job spec gives such an operator a `window` (tumbling, sliding or session, with an
/// optional allowed lateness). The host assigns every event to its windows per key, keeps one
/// accumulator per pane (one key in one window) and calls
///
/// - [`add`](WindowOperator::add) for each event of a batch, once per window it belongs to,
///   starting from [`Acc::default()`](Default) for a new pane;
/// - [`merge`](WindowOperator::merge) when two session windows of a key come to overlap;
/// - [`fire`](WindowOperator::fire) once the watermark passes the end of a pane, and again
///   each time an event within the allowed lateness updates a pane that has already fired, so
///   the last result emitted for a pane is its final one.
///
/// Export the implementing type with [`export_windowed!`](crate::export_windowed). The host
/// keeps the accumulators, so they survive a trap and a failed call leaves them unchanged
/// (fields of `self` are not rolled back, so keep everything a result depends on in `Acc`).
/// The SDK encodes them compactly (postcard, or JSON for accumulator types postcard cannot
/// carry), and keeps them in the guest between batches where the host allows it (the
/// contract's 0.2.0 `resident` export): the host still owns them, logs the batches folded
/// since it last took them back, and folds those again should the instance's copy be lost.
/// An accumulator that does not decode as `Acc` fails the call with [`Error::Failed`] naming
/// the pane.
///
/// A per-key count and sum of a JSON field `amount`:
///
/// ```
/// use cameo_sdk::serde::{Deserialize, Serialize};
/// use cameo_sdk::serde_json::json;
/// use cameo_sdk::{Config, Event, Output, Result, Window, WindowOperator};
///
/// struct Totals;
///
/// #[derive(Default, Serialize, Deserialize)]
/// #[serde(crate = "cameo_sdk::serde")]
/// struct Acc {
///     count: u64,
///     sum: f64,
/// }
///
/// impl WindowOperator for Totals {
///     type Acc = Acc;
///
///     fn init(_config: &Config) -> Result<Self> {
///         Ok(Totals)
///     }
///
///     fn add(&mut self, acc: &mut Acc, event: &Event) -> Result<()> {
///         let value: cameo_sdk::serde_json::Value = event.value_json()?;
///         acc.count += 1;
///         acc.sum += value["amount"].as_f64().unwrap_or(0.0);
///         Ok(())
///     }
///
///     fn merge(&mut self, a: Acc, b: Acc) -> Result<Acc> {
///         Ok(Acc { count: a.count + b.count, sum: a.sum + b.sum })
///     }
///
///     fn fire(&mut self, key: Option<&[u8]>, window: Window, acc: Acc, out: &mut Output) -> Result<()> {
///         let result = json!({"start": window.start, "count": acc.count, "sum": acc.sum});
///         let event = Event::json(&result)?.with_event_time(window.max_time());
///         out.emit(event.with_key_opt(key.map(<[u8]>::to_vec)));
///         Ok(())
///     }
/// }
///
/// cameo_sdk::export_windowed!(Totals);
/// ```
pub trait WindowOperator: Sized + 'static {
    /// The accumulator of one pane, stored by the host between calls in a compact binary
    /// encoding (postcard). A new pane starts from `Acc::default()`. Plain data (structs,
    /// numbers, strings, vectors, options, ordinary enums) is fastest; a type the binary
    /// encoding cannot read back (untagged enums, `#[serde(flatten)]`,
    /// `skip_serializing_if`, `serde_json::Value`) is stored as JSON instead.
    type Acc: Serialize + DeserializeOwned + Default;

    /// Creates the instance from the job's configuration. Called once per instance, before any
    /// other call; an error here fails the instance's start.
    fn init(config: &Config) -> Result<Self>;

    /// Folds `event` into the accumulator of one of its panes. An event in several windows
    /// (sliding windows overlap) is added to each of them. Returning an error fails the whole
    /// batch: no accumulator changes, and the host retries the events one by one.
    fn add(&mut self, acc: &mut Self::Acc, event: &Event) -> Result<()>;

    /// The accumulator of the union of two session windows of the same key, `a` the earlier.
    /// Needed only for session windows; the default fails saying so.
    fn merge(&mut self, a: Self::Acc, b: Self::Acc) -> Result<Self::Acc> {
        let _ = (a, b);
        Err(Error::failed(MERGE_MISSING))
    }

    /// Emits the result of a pane: `key` is the events' key, `window` the pane's window and
    /// `acc` its accumulator. Called when the watermark passes `window.end - 1`, and again
    /// with the updated accumulator whenever a late event within the allowed lateness changes
    /// a pane that has fired. Set the event time of what you emit (usually
    /// [`window.max_time()`](Window::max_time)) and its key: nothing is copied from the input.
    fn fire(
        &mut self,
        key: Option<&[u8]>,
        window: Window,
        acc: Self::Acc,
        out: &mut Output,
    ) -> Result<()>;
}

const MERGE_MISSING: &str = "this window operator does not implement WindowOperator::merge, \
     which session windows need to combine overlapping sessions; implement it, or use a \
     tumbling or sliding window";

const PROCESS_ON_WINDOWED: &str = "this operator is windowed (exported with \
     cameo_sdk::export_windowed!): give it a `window` in the job spec, for example \
     window = { kind = \"tumbling\", size_ms = 60000 }, so that the host assigns its events \
     to windows";

const TIMER_ON_WINDOWED: &str = "this operator is windowed (exported with \
     cameo_sdk::export_windowed!) and does not handle timers; the host fires its windows";

/// Implements the generated `handler` and `windowed` traits for any [`WindowOperator`].
pub struct WindowAdapter<T>(PhantomData<T>);

impl<T: WindowOperator> handler::Guest for WindowAdapter<T> {
    fn init(config: String) -> Result<()> {
        crate::acc_codec::reset();
        init_instance(&config, T::init)
    }

    fn process(_batch: Vec<Event>) -> Result<Vec<Event>> {
        Err(Error::failed(PROCESS_ON_WINDOWED))
    }

    fn on_timer(_key: Option<Vec<u8>>, _time: i64) -> Result<Vec<Event>> {
        Err(Error::failed(TIMER_ON_WINDOWED))
    }
}

impl<T: WindowOperator> windowed::Guest for WindowAdapter<T> {
    fn accumulate(panes: Vec<Pane>, events: Vec<(u32, Event)>) -> Result<Vec<Vec<u8>>> {
        with_instance(|instance: &mut T| {
            let mut accs = Vec::with_capacity(panes.len());
            for pane in &panes {
                accs.push(match &pane.acc {
                    None => T::Acc::default(),
                    Some(bytes) => decode(bytes, || describe(pane.key.as_deref(), &pane.window))?,
                });
            }
            for (position, (index, event)) in events.iter().enumerate() {
                let acc = usize::try_from(*index)
                    .ok()
                    .and_then(|index| accs.get_mut(index))
                    .ok_or_else(|| {
                        Error::failed(format!(
                            "event {position} of the batch names pane {index}, but the batch \
                             has {} panes",
                            panes.len()
                        ))
                    })?;
                instance.add(acc, event)?;
            }
            accs.iter().map(encode).collect()
        })
    }

    fn merge(key: Option<Vec<u8>>, a: Vec<u8>, b: Vec<u8>) -> Result<Vec<u8>> {
        with_instance(|instance: &mut T| {
            let what = |which: &str| format!("the {which} session of {}", describe_key(&key));
            let a = decode(&a, || what("earlier"))?;
            let b = decode(&b, || what("later"))?;
            encode(&instance.merge(a, b)?)
        })
    }

    fn fire(key: Option<Vec<u8>>, window: Window, acc: Vec<u8>) -> Result<Vec<Event>> {
        with_instance(|instance: &mut T| {
            let acc = decode(&acc, || describe(key.as_deref(), &window))?;
            let mut out = Output::new();
            instance.fire(key.as_deref(), window, acc, &mut out)?;
            Ok(out.into_events())
        })
    }
}

/// How an error names a pane: its key and window.
pub(crate) fn describe(key: Option<&[u8]>, window: &Window) -> String {
    format!(
        "{}, window [{}, {})",
        describe_key(&key),
        window.start,
        window.end
    )
}

fn describe_key(key: &Option<impl AsRef<[u8]>>) -> String {
    match key {
        None => "no key".to_string(),
        Some(key) => format!("key {:?}", String::from_utf8_lossy(key.as_ref())),
    }
}

/// Exports a type implementing [`WindowOperator`] as the component's `handler` and
/// `windowed`.
///
/// Use it once per operator crate, at module level, instead of
/// [`export_operator!`](crate::export_operator). The component then exports
/// `cameo:operator/windowed@0.1.0`, so the job spec must give the operator a `window`:
/// `init` receives the configuration as usual, and a `process` call (which the host makes
/// only when the spec has no `window`) fails with [`Error::Failed`] saying that the operator
/// needs one. See [`WindowOperator`] for an example.
#[macro_export]
macro_rules! export_windowed {
    ($operator:ty) => {
        const _: () = {
            type __CameoWindowedOperator = $crate::__private::WindowAdapter<$operator>;
            $crate::bindings::__export_operator_raw!(
                __CameoWindowedOperator with_types_in $crate::bindings
            );
            $crate::bindings::windowed_world::__export_windowed_raw!(
                __CameoWindowedOperator with_types_in $crate::bindings::windowed_world
            );
            $crate::bindings::packed_world::__export_packed_raw!(
                __CameoWindowedOperator with_types_in $crate::bindings::packed_world
            );
            $crate::bindings::resident_world::__export_resident_raw!(
                __CameoWindowedOperator with_types_in $crate::bindings::resident_world
            );
        };
    };
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bindings::exports::cameo::operator::handler::Guest as _;
    use crate::bindings::windowed_world::exports::cameo::operator::windowed::Guest as _;
    use serde::Deserialize;

    #[derive(Default, Serialize, Deserialize, Debug, PartialEq)]
    struct Acc {
        n: u64,
        total: i64,
    }

    /// Sums integer event values; `merge` only when configured to.
    struct Sum {
        can_merge: bool,
    }

    impl WindowOperator for Sum {
        type Acc = Acc;

        fn init(config: &Config) -> Result<Self> {
            Ok(Sum {
                can_merge: config.get_bool("merge")?.unwrap_or(false),
            })
        }

        fn add(&mut self, acc: &mut Acc, event: &Event) -> Result<()> {
            acc.n += 1;
            acc.total += event.value_str()?.parse::<i64>()?;
            Ok(())
        }

        fn merge(&mut self, a: Acc, b: Acc) -> Result<Acc> {
            if !self.can_merge {
                return Err(Error::failed(MERGE_MISSING));
            }
            Ok(Acc {
                n: a.n + b.n,
                total: a.total + b.total,
            })
        }

        fn fire(
            &mut self,
            key: Option<&[u8]>,
            window: Window,
            acc: Acc,
            out: &mut Output,
        ) -> Result<()> {
            out.emit(
                Event::new(format!("{}/{}", acc.n, acc.total))
                    .with_key_opt(key.map(<[u8]>::to_vec))
                    .with_event_time(window.max_time()),
            );
            Ok(())
        }
    }

    struct NoMerge;

    impl WindowOperator for NoMerge {
        type Acc = u64;

        fn init(_config: &Config) -> Result<Self> {
            Ok(NoMerge)
        }

        fn add(&mut self, acc: &mut u64, _event: &Event) -> Result<()> {
            *acc += 1;
            Ok(())
        }

        fn fire(&mut self, _: Option<&[u8]>, _: Window, _: u64, _: &mut Output) -> Result<()> {
            Ok(())
        }
    }

    type A = WindowAdapter<Sum>;

    fn pane(key: &str, start: i64, acc: Option<Vec<u8>>) -> Pane {
        Pane {
            key: Some(key.as_bytes().to_vec()),
            window: Window::new(start, start + 10),
            acc,
        }
    }

    /// `Acc { n, total }` as the SDK encodes it.
    fn sum(n: u64, total: i64) -> Vec<u8> {
        encode(&Acc { n, total }).unwrap()
    }

    #[test]
    fn accumulate_folds_events_into_their_panes_in_order() {
        A::init("{}".into()).unwrap();
        let panes = vec![pane("a", 0, None), pane("b", 0, Some(sum(2, 5)))];
        let events = vec![
            (0, Event::new("1")),
            (1, Event::new("10")),
            (0, Event::new("2")),
        ];
        let accs = A::accumulate(panes, events).unwrap();
        assert_eq!(accs, vec![sum(2, 3), sum(3, 15)]);
        // Accumulators written as JSON (by an older SDK) are still read.
        let panes = vec![pane("b", 0, Some(br#"{"n":2,"total":5}"#.to_vec()))];
        let accs = A::accumulate(panes, vec![(0, Event::new("1"))]).unwrap();
        assert_eq!(accs, vec![sum(3, 6)]);
        // A pane without events keeps its accumulator (a new one gets the default).
        let accs = A::accumulate(vec![pane("c", 0, None)], vec![]).unwrap();
        assert_eq!(accs, vec![sum(0, 0)]);
    }

    #[test]
    fn errors_name_the_problem() {
        A::init("{}".into()).unwrap();
        let err = A::accumulate(vec![pane("a", 20, Some(b"{oops".to_vec()))], vec![]).unwrap_err();
        assert!(!err.is_invalid_input());
        assert!(
            err.message()
                .starts_with(r#"the window accumulator of key "a", window [20, 30) is corrupt: "#),
            "{}",
            err.message()
        );
        assert!(err.message().contains(r#"(it holds 5 bytes: "{oops")"#));
        let err = A::accumulate(vec![pane("a", 0, None)], vec![(1, Event::new("1"))]).unwrap_err();
        assert_eq!(
            err.message(),
            "event 0 of the batch names pane 1, but the batch has 1 panes"
        );
        let err = A::accumulate(vec![pane("a", 0, None)], vec![(0, Event::new("x"))]).unwrap_err();
        assert!(err.is_invalid_input());
        let err = A::fire(None, Window::new(0, 10), b"[]".to_vec()).unwrap_err();
        assert!(
            err.message()
                .starts_with("the window accumulator of no key, window [0, 10) is corrupt")
        );
    }

    #[test]
    fn merge_and_fire() {
        A::init(r#"{"merge": true}"#.into()).unwrap();
        let merged = A::merge(Some(b"k".to_vec()), sum(1, 2), sum(3, 4)).unwrap();
        assert_eq!(merged, sum(4, 6));
        let err = A::merge(None, b"{}".to_vec(), b"7".to_vec()).unwrap_err();
        assert!(
            err.message()
                .starts_with("the window accumulator of the earlier session of no key")
        );
        let out = A::fire(Some(b"k".to_vec()), Window::new(10, 20), merged).unwrap();
        assert_eq!(
            out,
            vec![Event::new("4/6").with_key("k").with_event_time(19)]
        );
    }

    #[test]
    fn merge_is_required_for_sessions_only() {
        type N = WindowAdapter<NoMerge>;
        N::init("{}".into()).unwrap();
        assert_eq!(
            N::accumulate(
                vec![pane("a", 0, Some(b"4".to_vec()))],
                vec![(0, Event::new("x"))]
            )
            .unwrap(),
            vec![encode(&5u64).unwrap()]
        );
        let err = N::merge(None, b"1".to_vec(), b"2".to_vec()).unwrap_err();
        assert_eq!(err, Error::failed(MERGE_MISSING));
    }

    #[test]
    fn handler_process_explains_the_missing_window() {
        let err = A::process(vec![Event::new("1")]).unwrap_err();
        assert_eq!(err, Error::failed(PROCESS_ON_WINDOWED));
        assert!(err.message().contains("give it a `window` in the job spec"));
        assert!(A::on_timer(None, 1).is_err());
    }

    #[test]
    fn calls_before_init_fail() {
        let err = A::accumulate(vec![], vec![]).unwrap_err();
        assert_eq!(err, Error::failed(crate::export::NOT_INITIALISED));
    }
}
