//! Host-managed joins: the [`JoinOperator`] trait and the glue behind
//! [`export_joiner!`](crate::export_joiner).

use core::marker::PhantomData;

use crate::bindings::exports::cameo::operator::handler;
use crate::bindings::join_world::exports::cameo::operator::joiner;
use crate::export::{init_instance, with_instance};
use crate::{Config, Error, Event, Output, Result};

/// An operator that joins two keyed inputs whose pairing the host manages.
///
/// The job spec gives such an operator a `join` over a left and a right input. The host
/// buffers both inputs per key and hands over every pair `(left, right)` of events with equal
/// keys whose event times are within the join's bound; the operator turns each pair into any
/// number of events. Export the implementing type with
/// [`export_joiner!`](crate::export_joiner).
///
/// ```
/// use cameo_sdk::serde_json::{Value, json};
/// use cameo_sdk::{Config, Event, JoinOperator, Output, Result};
///
/// /// Pairs orders with payments of the same key.
/// struct OrdersWithPayments;
///
/// impl JoinOperator for OrdersWithPayments {
///     fn init(_config: &Config) -> Result<Self> {
///         Ok(OrdersWithPayments)
///     }
///
///     fn join(&mut self, order: Event, payment: Event, out: &mut Output) -> Result<()> {
///         let joined = json!({
///             "order": order.value_json::<Value>()?,
///             "payment": payment.value_json::<Value>()?,
///         });
///         let time = order.event_time.max(payment.event_time);
///         out.emit(Event::json(&joined)?.with_key_opt(order.key).with_event_time(time));
///         Ok(())
///     }
/// }
///
/// cameo_sdk::export_joiner!(OrdersWithPayments);
/// ```
pub trait JoinOperator: Sized + 'static {
    /// Creates the instance from the job's configuration. Called once per instance, before any
    /// other call; an error here fails the instance's start.
    fn init(config: &Config) -> Result<Self>;

    /// Joins one pair: `left` from the join's left input, `right` from its right input, with
    /// equal keys. Emit the results into `out`, setting their key and event time: nothing is
    /// copied from the inputs.
    fn join(&mut self, left: Event, right: Event, out: &mut Output) -> Result<()>;

    /// Joins the pairs of one call, in the order the host gives them. The default calls
    /// [`join`](JoinOperator::join) for each pair and stops at the first error, which fails
    /// the whole call.
    fn join_batch(&mut self, pairs: Vec<(Event, Event)>, out: &mut Output) -> Result<()> {
        for (left, right) in pairs {
            self.join(left, right, out)?;
        }
        Ok(())
    }
}

const PROCESS_ON_JOINER: &str = "this operator joins two inputs (exported with \
     cameo_sdk::export_joiner!): give it a `join` in the job spec, so that the host pairs the \
     events of its inputs";

const TIMER_ON_JOINER: &str = "this operator joins two inputs (exported with \
     cameo_sdk::export_joiner!) and does not handle timers";

/// Implements the generated `handler` and `joiner` traits for any [`JoinOperator`].
pub struct JoinAdapter<T>(PhantomData<T>);

impl<T: JoinOperator> handler::Guest for JoinAdapter<T> {
    fn init(config: String) -> Result<()> {
        init_instance(&config, T::init)
    }

    fn process(_batch: Vec<Event>) -> Result<Vec<Event>> {
        Err(Error::failed(PROCESS_ON_JOINER))
    }

    fn on_timer(_key: Option<Vec<u8>>, _time: i64) -> Result<Vec<Event>> {
        Err(Error::failed(TIMER_ON_JOINER))
    }
}

impl<T: JoinOperator> joiner::Guest for JoinAdapter<T> {
    fn join(pairs: Vec<(Event, Event)>) -> Result<Vec<Event>> {
        with_instance(|instance: &mut T| {
            let mut out = Output::new();
            instance.join_batch(pairs, &mut out)?;
            Ok(out.into_events())
        })
    }
}

/// Exports a type implementing [`JoinOperator`] as the component's `handler` and `joiner`.
///
/// Use it once per operator crate, at module level, instead of
/// [`export_operator!`](crate::export_operator). The component then exports
/// `cameo:operator/joiner@0.1.0`: `init` receives the configuration as usual, and a `process`
/// call (which the host makes only when the job spec declares no join for the operator)
/// fails with [`Error::Failed`] saying that the operator needs one. See [`JoinOperator`] for
/// an example.
#[macro_export]
macro_rules! export_joiner {
    ($operator:ty) => {
        const _: () = {
            type __CameoJoinOperator = $crate::__private::JoinAdapter<$operator>;
            $crate::bindings::__export_operator_raw!(
                __CameoJoinOperator with_types_in $crate::bindings
            );
            $crate::bindings::join_world::__export_joiner_raw!(
                __CameoJoinOperator with_types_in $crate::bindings::join_world
            );
        };
    };
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bindings::exports::cameo::operator::handler::Guest as _;
    use crate::bindings::join_world::exports::cameo::operator::joiner::Guest as _;

    /// Concatenates the values of each pair, failing on a configured left value.
    struct Concat {
        fail_on: Option<String>,
    }

    impl JoinOperator for Concat {
        fn init(config: &Config) -> Result<Self> {
            Ok(Concat {
                fail_on: config.get_str("fail_on")?.map(str::to_string),
            })
        }

        fn join(&mut self, left: Event, right: Event, out: &mut Output) -> Result<()> {
            if self.fail_on.as_deref() == Some(left.value_str()?) {
                return Err(Error::invalid_input("bad pair"));
            }
            let value = [left.value, right.value].concat();
            out.emit(Event::new(value).with_event_time(left.event_time.max(right.event_time)));
            Ok(())
        }
    }

    type J = JoinAdapter<Concat>;

    #[test]
    fn joins_every_pair_in_order() {
        J::init("{}".into()).unwrap();
        let pairs = vec![
            (
                Event::new("a").with_event_time(5),
                Event::new("1").with_event_time(3),
            ),
            (Event::new("b"), Event::new("2").with_event_time(9)),
        ];
        let out = J::join(pairs).unwrap();
        assert_eq!(
            out,
            vec![
                Event::new("a1").with_event_time(5),
                Event::new("b2").with_event_time(9)
            ]
        );
    }

    #[test]
    fn errors_fail_the_call() {
        J::init(r#"{"fail_on": "x"}"#.into()).unwrap();
        let err = J::join(vec![(Event::new("x"), Event::new("y"))]).unwrap_err();
        assert_eq!(err, Error::invalid_input("bad pair"));
        let err = J::process(vec![]).unwrap_err();
        assert_eq!(err, Error::failed(PROCESS_ON_JOINER));
        assert!(J::on_timer(None, 0).is_err());
    }

    #[test]
    fn join_before_init_fails() {
        let err = J::join(vec![]).unwrap_err();
        assert_eq!(err, Error::failed(crate::export::NOT_INITIALISED));
    }
}
