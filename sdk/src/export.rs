//! Glue between the [`Operator`] trait and the generated component exports.

use core::any::Any;
use core::cell::RefCell;
use core::marker::PhantomData;

use crate::bindings::exports::cameo::operator::handler::Guest;
use crate::{Config, Error, Event, Operator, Output, Result};

/// The signature of a function exported with [`export_map!`](crate::export_map).
pub type MapFn = fn(Event, &Config) -> Result<Option<Event>>;

/// The signature of a function exported with [`export_filter!`](crate::export_filter).
pub type FilterFn = fn(&Event, &Config) -> Result<bool>;

std::thread_local! {
    /// The operator instance created by `init`. A component has a single operator type, so
    /// one type-erased slot is enough.
    static INSTANCE: RefCell<Option<Box<dyn Any>>> = const { RefCell::new(None) };
}

pub(crate) const NOT_INITIALISED: &str =
    "operator is not initialised: init was not called, or it returned an error";

/// Runs `f` on the instance created by `init`; [`Error::Failed`] if there is none (or it has
/// another type, or a call is already using it).
pub(crate) fn with_instance<T: 'static, R>(f: impl FnOnce(&mut T) -> Result<R>) -> Result<R> {
    INSTANCE.with(|slot| {
        let mut slot = slot
            .try_borrow_mut()
            .map_err(|_| Error::failed("operator instance is already in use (re-entrant call)"))?;
        let instance = slot
            .as_mut()
            .ok_or_else(|| Error::failed(NOT_INITIALISED))?
            .downcast_mut::<T>()
            .ok_or_else(|| Error::failed("operator instance has an unexpected type"))?;
        f(instance)
    })
}

/// Replaces the instance (`None` removes it).
pub(crate) fn set_instance<T: 'static>(instance: Option<T>) -> Result<()> {
    INSTANCE.with(|slot| {
        let mut slot = slot
            .try_borrow_mut()
            .map_err(|_| Error::failed("operator instance is already in use (re-entrant call)"))?;
        *slot = instance.map(|instance| Box::new(instance) as Box<dyn Any>);
        Ok(())
    })
}

/// `init` for every export macro: parses the configuration and creates the instance with
/// `create`. A failed (re-)initialisation leaves no older instance behind.
pub(crate) fn init_instance<T: 'static>(
    config: &str,
    create: impl FnOnce(&Config) -> Result<T>,
) -> Result<()> {
    set_instance::<T>(None)?;
    let config = Config::from_json(config)?;
    let instance = create(&config)?;
    set_instance(Some(instance))
}

/// Implements the generated `Guest` trait for any [`Operator`].
pub struct Adapter<T>(PhantomData<T>);

impl<T: Operator> Guest for Adapter<T> {
    fn init(config: String) -> Result<()> {
        init_instance(&config, T::init)
    }

    fn process(batch: Vec<Event>) -> Result<Vec<Event>> {
        with_instance(|instance: &mut T| {
            let mut out = Output::new();
            instance.process_batch(batch, &mut out)?;
            Ok(out.into_events())
        })
    }

    fn on_timer(key: Option<Vec<u8>>, time: i64) -> Result<Vec<Event>> {
        with_instance(|instance: &mut T| {
            let mut out = Output::new();
            instance.on_timer(key, time, &mut out)?;
            Ok(out.into_events())
        })
    }
}

/// Exports a type implementing [`Operator`] as the component's `handler`.
///
/// Use it once per operator crate, at module level, with the type's name (or path).
///
/// ```
/// use cameo_sdk::{Config, Event, Operator, Output, Result};
///
/// /// Forwards every event unchanged.
/// struct Identity;
///
/// impl Operator for Identity {
///     fn init(_config: &Config) -> Result<Self> {
///         Ok(Identity)
///     }
///
///     fn process(&mut self, event: Event, out: &mut Output) -> Result<()> {
///         out.emit(event);
///         Ok(())
///     }
/// }
///
/// cameo_sdk::export_operator!(Identity);
/// ```
///
/// A `process` or `on-timer` call that arrives before a successful `init` fails with
/// [`Error::Failed`](crate::Error::Failed) saying so.
#[macro_export]
macro_rules! export_operator {
    ($operator:ty) => {
        const _: () = {
            type __CameoExportedOperator = $crate::__private::Adapter<$operator>;
            $crate::bindings::__export_operator_raw!(
                __CameoExportedOperator with_types_in $crate::bindings
            );
            $crate::bindings::packed_process_world::__export_packed_process_raw!(
                __CameoExportedOperator with_types_in $crate::bindings::packed_process_world
            );
        };
    };
}

/// Exports one function as a whole stateless operator that maps each event to zero or one
/// events.
///
/// The function has the signature `fn(Event, &Config) -> Result<Option<Event>>`: it gets each
/// event and the operator's configuration, and returns the event to send downstream, or
/// `None` to drop it. A closure that captures nothing works too.
///
/// ```
/// use cameo_sdk::{Config, Event, Result};
///
/// /// Keys each JSON event by its `user` field; drops events without one.
/// fn key_by_user(event: Event, config: &Config) -> Result<Option<Event>> {
///     let field = config.get_str("field")?.unwrap_or("user");
///     let value: cameo_sdk::serde_json::Value = event.value_json()?;
///     Ok(match value.get(field).and_then(|v| v.as_str()) {
///         Some(user) => Some(event.with_key(user)),
///         None => None,
///     })
/// }
///
/// cameo_sdk::export_map!(key_by_user);
/// ```
#[macro_export]
macro_rules! export_map {
    ($function:expr) => {
        const _: () = {
            struct __CameoMapOperator {
                config: $crate::Config,
            }

            impl $crate::Operator for __CameoMapOperator {
                fn init(config: &$crate::Config) -> $crate::Result<Self> {
                    ::core::result::Result::Ok(__CameoMapOperator {
                        config: ::core::clone::Clone::clone(config),
                    })
                }

                fn process(
                    &mut self,
                    event: $crate::Event,
                    out: &mut $crate::Output,
                ) -> $crate::Result<()> {
                    let function: $crate::__private::MapFn = $function;
                    if let ::core::option::Option::Some(event) = function(event, &self.config)? {
                        out.emit(event);
                    }
                    ::core::result::Result::Ok(())
                }
            }

            $crate::export_operator!(__CameoMapOperator);
        };
    };
}

/// Exports one predicate as a whole stateless operator that keeps the events it accepts.
///
/// The predicate has the signature `fn(&Event, &Config) -> Result<bool>`: `true` sends the
/// event downstream unchanged, `false` drops it. A closure that captures nothing works too.
///
/// ```
/// use cameo_sdk::{Config, Event, Result};
///
/// /// Keeps events whose key starts with the configured `prefix`.
/// fn has_prefix(event: &Event, config: &Config) -> Result<bool> {
///     let prefix = config.require_str("prefix")?;
///     Ok(event.key.as_deref().is_some_and(|key| key.starts_with(prefix.as_bytes())))
/// }
///
/// cameo_sdk::export_filter!(has_prefix);
/// ```
#[macro_export]
macro_rules! export_filter {
    ($predicate:expr) => {
        const _: () = {
            struct __CameoFilterOperator {
                config: $crate::Config,
            }

            impl $crate::Operator for __CameoFilterOperator {
                fn init(config: &$crate::Config) -> $crate::Result<Self> {
                    ::core::result::Result::Ok(__CameoFilterOperator {
                        config: ::core::clone::Clone::clone(config),
                    })
                }

                fn process(
                    &mut self,
                    event: $crate::Event,
                    out: &mut $crate::Output,
                ) -> $crate::Result<()> {
                    let predicate: $crate::__private::FilterFn = $predicate;
                    if predicate(&event, &self.config)? {
                        out.emit(event);
                    }
                    ::core::result::Result::Ok(())
                }
            }

            $crate::export_operator!(__CameoFilterOperator);
        };
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Counter {
        seen: usize,
        fail_on: Option<Vec<u8>>,
    }

    impl Operator for Counter {
        fn init(config: &Config) -> Result<Self> {
            Ok(Counter {
                seen: 0,
                fail_on: config.get_str("fail_on")?.map(|s| s.as_bytes().to_vec()),
            })
        }

        fn process(&mut self, event: Event, out: &mut Output) -> Result<()> {
            if self.fail_on.as_deref() == Some(event.value.as_slice()) {
                return Err(Error::invalid_input("bad event"));
            }
            self.seen += 1;
            out.emit(event.with_header("n", self.seen.to_string()));
            Ok(())
        }

        fn on_timer(&mut self, _key: Option<Vec<u8>>, time: i64, out: &mut Output) -> Result<()> {
            out.emit(Event::new("tick").with_event_time(time));
            Ok(())
        }
    }

    type A = Adapter<Counter>;

    // The adapter keeps one instance per thread; each test runs on its own thread.

    #[test]
    fn process_before_init_is_an_error() {
        let err = A::process(vec![Event::new("x")]).unwrap_err();
        assert_eq!(err, Error::failed(NOT_INITIALISED));
        let err = A::on_timer(None, 1).unwrap_err();
        assert_eq!(err, Error::failed(NOT_INITIALISED));
    }

    #[test]
    fn instance_lives_across_calls() {
        A::init("{}".into()).unwrap();
        let out = A::process(vec![Event::new("a"), Event::new("b")]).unwrap();
        assert_eq!(out.len(), 2);
        let out = A::process(vec![Event::new("c")]).unwrap();
        assert_eq!(out[0].header("n"), Some(&b"3"[..]));
        let out = A::on_timer(Some(b"k".to_vec()), 42).unwrap();
        assert_eq!(out, vec![Event::new("tick").with_event_time(42)]);
    }

    #[test]
    fn failed_init_clears_the_instance() {
        A::init("{}".into()).unwrap();
        let err = A::init("[]".into()).unwrap_err();
        assert!(err.is_invalid_input());
        assert_eq!(
            A::process(vec![]).unwrap_err(),
            Error::failed(NOT_INITIALISED)
        );
    }

    #[test]
    fn errors_fail_the_batch() {
        A::init(r#"{"fail_on": "bad"}"#.into()).unwrap();
        let err = A::process(vec![Event::new("a"), Event::new("bad")]).unwrap_err();
        assert_eq!(err, Error::invalid_input("bad event"));
    }
}
