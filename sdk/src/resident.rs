//! The contract's 0.2.0 `resident` export (`wit/0.2.0/resident.wit`): accumulators kept in
//! the guest between batches. A batch names a pane's accumulator once per epoch (by its
//! handle) and folds into the one kept here; `collect` hands them all back in handle order.

use core::any::Any;
use core::cell::RefCell;

use crate::bindings::resident_world::exports::cameo::operator0_2_0::resident;
use crate::export::with_instance;
use crate::packed::{encode_all, fold_events, read_pane};
use crate::packed_codec::Reader;
use crate::window::WindowAdapter;
use crate::{Error, Result, WindowOperator};

/// The accumulators of one epoch, by handle.
struct Kept<A> {
    epoch: u64,
    accs: Vec<A>,
}

std::thread_local! {
    /// The kept accumulators (of the component's one accumulator type, type-erased).
    static KEPT: RefCell<Option<Box<dyn Any>>> = const { RefCell::new(None) };
}

/// Runs `f` on the accumulators kept for `epoch`: none when the guest last saw another epoch.
fn with_kept<A: 'static, R>(epoch: u64, f: impl FnOnce(&mut Vec<A>) -> Result<R>) -> Result<R> {
    KEPT.with(|slot| {
        let mut slot = slot
            .try_borrow_mut()
            .map_err(|_| Error::failed("the kept accumulators are already in use"))?;
        let current = slot
            .as_mut()
            .and_then(|kept| kept.downcast_mut::<Kept<A>>())
            .filter(|kept| kept.epoch == epoch);
        if current.is_none() {
            *slot = Some(Box::new(Kept::<A> {
                epoch,
                accs: Vec::new(),
            }));
        }
        let kept = slot
            .as_mut()
            .and_then(|kept| kept.downcast_mut::<Kept<A>>())
            .ok_or_else(|| Error::failed("the kept accumulators have an unexpected type"))?;
        f(&mut kept.accs)
    })
}

impl<T: WindowOperator> resident::Guest for WindowAdapter<T> {
    fn fold(epoch: u64, batch: Vec<u8>) -> Result<()> {
        with_instance(|instance: &mut T| {
            with_kept::<T::Acc, ()>(epoch, |accs| {
                let mut reader = Reader::new(&batch);
                let panes = reader.u32("the pane count")?;
                for _ in 0..panes {
                    let handle = reader.u32("a pane's handle")? as usize;
                    if handle != accs.len() {
                        return Err(Error::failed(format!(
                            "the batch gives out handle {handle}, but the next free handle of \
                             epoch {epoch} is {}",
                            accs.len()
                        )));
                    }
                    accs.push(read_pane::<T>(&mut reader)?);
                }
                fold_events(instance, &mut reader, accs)?;
                reader.finish()
            })
        })
    }

    fn collect(epoch: u64) -> Result<Vec<u8>> {
        with_kept::<T::Acc, Vec<u8>>(epoch, |accs| {
            let out = encode_all(accs);
            accs.clear();
            out
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bindings::exports::cameo::operator::handler::Guest as _;
    use crate::bindings::packed_world::exports::cameo::operator0_2_0::packed;

    use crate::packed::tests::A;

    fn put(out: &mut Vec<u8>, bytes: &[u8]) {
        out.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
        out.extend_from_slice(bytes);
    }

    /// A batch: `new` panes (handle, key, accumulator) and events (pane, value).
    fn batch(new: &[(u32, &str, Option<&[u8]>)], events: &[(u32, &str)], handles: bool) -> Vec<u8> {
        let mut out = (new.len() as u32).to_le_bytes().to_vec();
        for (handle, key, acc) in new {
            if handles {
                out.extend_from_slice(&handle.to_le_bytes());
            }
            put(&mut out, key.as_bytes());
            out.extend_from_slice(&0i64.to_le_bytes());
            out.extend_from_slice(&10i64.to_le_bytes());
            match acc {
                Some(acc) => put(&mut out, acc),
                None => out.extend_from_slice(&u32::MAX.to_le_bytes()),
            }
        }
        out.extend_from_slice(&(events.len() as u32).to_le_bytes());
        for (pane, value) in events {
            out.extend_from_slice(&pane.to_le_bytes());
            out.extend_from_slice(&u32::MAX.to_le_bytes());
            put(&mut out, value.as_bytes());
            out.extend_from_slice(&5i64.to_le_bytes());
            out.extend_from_slice(&0u32.to_le_bytes());
        }
        out
    }

    #[test]
    fn folding_batches_and_collecting_equals_one_packed_batch() {
        A::init("{}".into()).unwrap();
        <A as resident::Guest>::fold(7, batch(&[(0, "a", None)], &[(0, "1"), (0, "2")], true))
            .unwrap();
        <A as resident::Guest>::fold(7, batch(&[(1, "b", None)], &[(1, "10"), (0, "3")], true))
            .unwrap();
        let kept = <A as resident::Guest>::collect(7).unwrap();
        let packed = <A as packed::Guest>::accumulate(batch(
            &[(0, "a", None), (1, "b", None)],
            &[(0, "1"), (0, "2"), (1, "10"), (0, "3")],
            false,
        ))
        .unwrap();
        assert_eq!(kept, packed);
    }

    #[test]
    fn a_new_epoch_starts_with_nothing_kept() {
        A::init("{}".into()).unwrap();
        <A as resident::Guest>::fold(1, batch(&[(0, "a", None)], &[(0, "1")], true)).unwrap();
        // Epoch 2 begins: handle 0 is free again and the old accumulator is gone.
        let acc = crate::acc_codec::encode(&(5u64, 50i64, 0u64)).unwrap();
        <A as resident::Guest>::fold(2, batch(&[(0, "a", Some(&acc))], &[(0, "1")], true)).unwrap();
        let kept = <A as resident::Guest>::collect(2).unwrap();
        let expected = encode_all(&[(6u64, 51i64, 0u64)]).unwrap();
        assert_eq!(kept, expected);
    }

    #[test]
    fn a_handle_out_of_turn_or_an_unknown_pane_is_refused_saying_which() {
        A::init("{}".into()).unwrap();
        let err = <A as resident::Guest>::fold(3, batch(&[(4, "a", None)], &[], true)).unwrap_err();
        assert!(
            err.message().contains("next free handle of epoch 3 is 0"),
            "{err:?}"
        );
        let err = <A as resident::Guest>::fold(4, batch(&[], &[(0, "1")], true)).unwrap_err();
        assert!(err.message().contains("names pane 0"), "{err:?}");
    }
}
