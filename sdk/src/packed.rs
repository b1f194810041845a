//! The contract's 0.2.0 `packed` export (`wit/0.2.0/packed.wit`): `accumulate` with the
//! batch in one buffer, read in place. The events of a batch are handed to
//! [`WindowOperator::add`] one after another in one reused [`Event`], so a batch costs the
//! guest no allocation per event.

use crate::acc_codec::{decode, encode_into};
use crate::bindings::packed_world::exports::cameo::operator0_2_0::packed;
use crate::export::with_instance;
use crate::packed_codec::{Reader, blank_event};
use crate::window::{WindowAdapter, describe};
use crate::{Error, Result, Window, WindowOperator};

impl<T: WindowOperator> packed::Guest for WindowAdapter<T> {
    fn accumulate(batch: Vec<u8>) -> Result<Vec<u8>> {
        with_instance(|instance: &mut T| {
            let mut reader = Reader::new(&batch);
            let panes = reader.u32("the pane count")? as usize;
            // Each pane takes at least 24 bytes: a larger count fails below, unallocated.
            let mut accs = Vec::with_capacity(panes.min(batch.len() / 24));
            for _ in 0..panes {
                accs.push(read_pane::<T>(&mut reader)?);
            }
            fold_events(instance, &mut reader, &mut accs)?;
            reader.finish()?;
            encode_all(&accs)
        })
    }
}

/// Reads a pane (key, window, accumulator) and returns its accumulator, the default one when
/// it has none yet.
pub(crate) fn read_pane<T: WindowOperator>(reader: &mut Reader<'_>) -> Result<T::Acc> {
    let key = reader.opt_bytes("a pane's key")?;
    let start = reader.i64("a pane's window")?;
    let end = reader.i64("a pane's window")?;
    match reader.opt_bytes("a pane's accumulator")? {
        None => Ok(T::Acc::default()),
        Some(bytes) => decode(bytes, || describe(key, &Window { start, end })),
    }
}

/// Reads the events of a batch (count first, each with the index of its accumulator in
/// `accs`) and folds each into its accumulator with [`WindowOperator::add`].
pub(crate) fn fold_events<T: WindowOperator>(
    instance: &mut T,
    reader: &mut Reader<'_>,
    accs: &mut [T::Acc],
) -> Result<()> {
    let events = reader.u32("the event count")?;
    let mut event = blank_event();
    for position in 0..events {
        let index = reader.u32("an event's pane")?;
        reader.event_into(&mut event, position)?;
        let held = accs.len();
        let acc = accs.get_mut(index as usize).ok_or_else(|| {
            Error::failed(format!(
                "event {position} of the batch names pane {index}, but the batch has \
                 {held} panes"
            ))
        })?;
        instance.add(acc, &event)?;
    }
    Ok(())
}

/// `accs` in the result layout: the count, then each accumulator's bytes.
pub(crate) fn encode_all<A: serde::Serialize + serde::de::DeserializeOwned>(
    accs: &[A],
) -> Result<Vec<u8>> {
    let mut out = Vec::with_capacity(4 + accs.len() * 24);
    out.extend_from_slice(&(accs.len() as u32).to_le_bytes());
    for acc in accs {
        // The length goes before the bytes: written once they are.
        let at = out.len();
        out.extend_from_slice(&[0; 4]);
        encode_into(acc, &mut out)?;
        let len = (out.len() - at - 4) as u32;
        out[at..at + 4].copy_from_slice(&len.to_le_bytes());
    }
    Ok(out)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::Event;
    use crate::Output;
    use crate::bindings::exports::cameo::operator::handler::Guest as _;
    use crate::bindings::windowed_world::exports::cameo::operator::windowed;
    use crate::window::Pane;

    /// Sums integer event values and counts the events that carry a header `x`.
    pub(crate) struct Sum;

    impl WindowOperator for Sum {
        type Acc = (u64, i64, u64);

        fn init(_config: &crate::Config) -> Result<Self> {
            Ok(Sum)
        }

        fn add(&mut self, acc: &mut Self::Acc, event: &Event) -> Result<()> {
            acc.0 += 1;
            acc.1 += event.value_str()?.parse::<i64>()?;
            acc.2 += u64::from(event.header("x").is_some());
            Ok(())
        }

        fn fire(
            &mut self,
            _: Option<&[u8]>,
            _: Window,
            _: Self::Acc,
            _: &mut Output,
        ) -> Result<()> {
            Ok(())
        }
    }

    pub(crate) type A = WindowAdapter<Sum>;

    fn put(out: &mut Vec<u8>, bytes: Option<&[u8]>) {
        match bytes {
            Some(bytes) => {
                out.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
                out.extend_from_slice(bytes);
            }
            None => out.extend_from_slice(&crate::packed_codec::NONE.to_le_bytes()),
        }
    }

    /// The packed batch of `panes` and `events`, laid out as the host writes it.
    fn pack(panes: &[Pane], events: &[(u32, Event)]) -> Vec<u8> {
        let mut out = (panes.len() as u32).to_le_bytes().to_vec();
        for pane in panes {
            put(&mut out, pane.key.as_deref());
            out.extend_from_slice(&pane.window.start.to_le_bytes());
            out.extend_from_slice(&pane.window.end.to_le_bytes());
            put(&mut out, pane.acc.as_deref());
        }
        out.extend_from_slice(&(events.len() as u32).to_le_bytes());
        for (pane, event) in events {
            out.extend_from_slice(&pane.to_le_bytes());
            put(&mut out, event.key.as_deref());
            put(&mut out, Some(&event.value));
            out.extend_from_slice(&event.event_time.to_le_bytes());
            out.extend_from_slice(&(event.headers.len() as u32).to_le_bytes());
            for header in &event.headers {
                put(&mut out, Some(header.name.as_bytes()));
                put(&mut out, Some(&header.value));
            }
        }
        out
    }

    fn unpack(bytes: &[u8]) -> Vec<Vec<u8>> {
        let mut reader = Reader::new(bytes);
        let count = reader.u32("count").unwrap();
        let accs = (0..count)
            .map(|_| reader.bytes("acc").unwrap().to_vec())
            .collect();
        assert_eq!(reader.at, bytes.len());
        accs
    }

    fn pane(key: &str, acc: Option<Vec<u8>>) -> Pane {
        Pane {
            key: Some(key.as_bytes().to_vec()),
            window: Window::new(0, 10),
            acc,
        }
    }

    #[test]
    fn a_packed_batch_folds_as_the_record_one_does() {
        A::init("{}".into()).unwrap();
        let first =
            <A as windowed::Guest>::accumulate(vec![pane("b", None)], vec![(0, Event::new("5"))])
                .unwrap();
        let panes = vec![pane("a", None), pane("b", Some(first[0].clone()))];
        let events = vec![
            (0, Event::new("1").with_key("a")),
            (1, Event::new("10").with_header("x", "y")),
            (0, Event::new("2").with_header("x", "")),
        ];
        let packed = <A as packed::Guest>::accumulate(pack(&panes, &events));
        let records = <A as windowed::Guest>::accumulate(panes, events).unwrap();
        assert_eq!(unpack(&packed.unwrap()), records);
    }

    #[test]
    fn a_malformed_packed_batch_fails_with_what_is_wrong() {
        A::init("{}".into()).unwrap();
        let batch = pack(&[pane("a", None)], &[(0, Event::new("1"))]);
        let err = <A as packed::Guest>::accumulate(batch[..batch.len() - 3].to_vec()).unwrap_err();
        assert!(
            err.message().contains("inside an event's header count"),
            "{err:?}"
        );
        let mut long = batch.clone();
        long.push(0);
        let err = <A as packed::Guest>::accumulate(long).unwrap_err();
        assert!(err.message().contains("1 bytes are left"), "{err:?}");
        let wrong_pane = pack(&[pane("a", None)], &[(3, Event::new("1"))]);
        let err = <A as packed::Guest>::accumulate(wrong_pane).unwrap_err();
        assert!(err.message().contains("names pane 3"), "{err:?}");
        // A count no batch could hold is refused without allocating for it.
        let err = <A as packed::Guest>::accumulate(u32::MAX.to_le_bytes().to_vec()).unwrap_err();
        assert!(err.message().contains("a pane's key"), "{err:?}");
    }
}
