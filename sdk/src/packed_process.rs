//! The contract's 0.2.0 `packed-process` export (`wit/0.2.0/packed.wit`): `process` with the
//! batch in one buffer, exported by [`export_operator!`] beside `handler.process` and
//! answering exactly as it does.
//!
//! [`export_operator!`]: crate::export_operator

use crate::bindings::packed_process_world::exports::cameo::operator0_2_0::packed_process;
use crate::export::{Adapter, with_instance};
use crate::packed_codec::{Reader, blank_event};
use crate::{Event, Operator, Output, Result};

impl<T: Operator> packed_process::Guest for Adapter<T> {
    fn process(batch: Vec<u8>) -> Result<Vec<Event>> {
        let mut reader = Reader::new(&batch);
        let count = reader.u32("the event count")?;
        // Each event takes at least 20 bytes: a larger count fails below, unallocated.
        let mut events = Vec::with_capacity((count as usize).min(batch.len() / 20));
        for position in 0..count {
            let mut event = blank_event();
            reader.event_into(&mut event, position)?;
            events.push(event);
        }
        reader.finish()?;
        with_instance(|instance: &mut T| {
            let mut out = Output::new();
            instance.process_batch(events, &mut out)?;
            Ok(out.into_events())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Config;
    use crate::bindings::exports::cameo::operator::handler::Guest as _;
    use crate::packed_codec::put_events;

    /// Keeps events whose value is not `drop`, adds a header, and emits a second event for
    /// `twice`.
    struct Shape;

    impl Operator for Shape {
        fn init(_: &Config) -> Result<Self> {
            Ok(Shape)
        }

        fn process(&mut self, event: Event, out: &mut Output) -> Result<()> {
            match event.value.as_slice() {
                b"drop" => {}
                b"fail" => return Err(crate::Error::invalid_input("asked to fail")),
                b"twice" => {
                    out.emit(event.clone());
                    out.emit(event);
                }
                _ => out.emit(event.with_header("seen", "1")),
            }
            Ok(())
        }
    }

    type A = Adapter<Shape>;

    fn events() -> Vec<Event> {
        vec![
            Event::new("a").with_key("k"),
            Event::new("drop"),
            Event::new("twice").with_event_time(7),
            Event::new("b").with_header("x", vec![0, 1]),
        ]
    }

    fn packed(events: &[Event]) -> Vec<u8> {
        let mut out = Vec::new();
        put_events(&mut out, events);
        out
    }

    #[test]
    fn a_packed_batch_is_processed_as_the_record_one_is() {
        <A as crate::bindings::exports::cameo::operator::handler::Guest>::init("{}".into())
            .unwrap();
        let by_records = A::process(events()).unwrap();
        let by_buffer = <A as packed_process::Guest>::process(packed(&events())).unwrap();
        assert_eq!(by_buffer, by_records);
        assert_eq!(by_records.len(), 4);
        let failed = <A as packed_process::Guest>::process(packed(&[Event::new("fail")]));
        assert_eq!(
            failed.unwrap_err(),
            A::process(vec![Event::new("fail")]).unwrap_err()
        );
    }

    #[test]
    fn a_malformed_packed_batch_fails_with_what_is_wrong() {
        <A as crate::bindings::exports::cameo::operator::handler::Guest>::init("{}".into())
            .unwrap();
        let bytes = packed(&events());
        let err =
            <A as packed_process::Guest>::process(bytes[..bytes.len() - 1].to_vec()).unwrap_err();
        assert!(
            err.to_string().contains("the packed batch ends after"),
            "{err}"
        );
        let mut long = bytes.clone();
        long.push(0);
        let err = <A as packed_process::Guest>::process(long).unwrap_err();
        assert!(err.to_string().contains("1 bytes are left"), "{err}");
        let err =
            <A as packed_process::Guest>::process(u32::MAX.to_le_bytes().to_vec()).unwrap_err();
        assert!(err.to_string().contains("ends after 4 bytes"), "{err}");
    }
}
