//! Converting an instance's state when its module changes: in batches
//! (`packed-upgrader.upgrade-states`) the state comes out exactly as one call per key
//! (`upgrader.upgrade-state`) leaves it, and a conversion that traps changes nothing and says
//! which operator failed to convert how many keys.

use std::future::Future;
use std::path::Path;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use cameo_host::internals::{
    Accounts, Batch, BatchKind, CallContext, CallDone, CallInput, KeyedState, StateTxn, fresh_slot,
};
use cameo_host::{Limits, OperatorEngine, OperatorModule};
use cameo_tests::guests;

fn block_on<F: Future>(future: F) -> F::Output {
    let mut future = std::pin::pin!(future);
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(out) = future.as_mut().poll(&mut cx) {
            return out;
        }
    }
}

/// State as `wordcount` leaves it (8-byte counts) for `keys` words, plus the entries in
/// `extra` as they are.
fn counts(keys: u64, extra: &[(&str, &[u8])]) -> KeyedState {
    let mut state = KeyedState::default();
    let mut txn = StateTxn::default();
    for i in 0..keys {
        let key = format!("w{i}").into_bytes();
        txn.put(&state, key, (i * 7 + 1).to_le_bytes().to_vec(), u64::MAX)
            .unwrap();
    }
    for (key, value) in extra {
        txn.put(&state, key.as_bytes().to_vec(), value.to_vec(), u64::MAX)
            .unwrap();
    }
    txn.commit(&mut state);
    state
}

/// The first call of `module` over `state` written by `wordcount@1`, with no input: the
/// conversion alone.
fn first_call(engine: &OperatorEngine, module: &OperatorModule, state: KeyedState) -> CallDone {
    let accounts = Accounts::unlimited();
    let cx = CallContext {
        operator: Arc::from("counts/count"),
        module: module.clone(),
        config: Arc::from("{}"),
        limits: Limits::default(),
        window: None,
        join: None,
        accounts: accounts.clone(),
        convert_from: Some(Arc::from("wordcount@1")),
    };
    let mut slot = fresh_slot(engine, "counts/count", &accounts);
    slot.host_mut().held.state = state;
    let input = CallInput::Batch {
        batch: Batch::new(Vec::new()),
        kind: BatchKind::Process,
    };
    block_on(cameo_host::internals::call::start(slot, input, cx))
}

/// The state an instance holds after a call that succeeded.
fn converted(done: CallDone) -> KeyedState {
    if let Err(err) = &done.result {
        panic!("the conversion failed: {err}");
    }
    let instance = done
        .instance
        .expect("a call that succeeded keeps its instance");
    instance.held().state.clone()
}

#[test]
fn state_converted_in_batches_equals_state_converted_one_key_per_call() {
    let engine = OperatorEngine::new(Limits::default()).unwrap();
    let batched = OperatorModule::load_file(&engine, Path::new(guests::WORDCOUNT_V3)).unwrap();
    assert!(batched.converts_state_in_batches());
    let per_key = batched.clone().converting_per_key();
    assert!(per_key.converts_state() && !per_key.converts_state_in_batches());
    // More keys than one batch holds; two entries whose conversion fails (kept as they were).
    let extra: &[(&str, &[u8])] = &[("short", b"abc"), ("long", b"0123456789")];
    let state = counts(10_000, extra);
    let a = converted(first_call(&engine, &batched, state.clone()));
    let b = converted(first_call(&engine, &per_key, state.clone()));
    assert_eq!(a.len(), 10_002);
    assert!(a == b, "the two conversions differ");
    assert_eq!(a.get(b"w0"), Some(&b"1"[..]));
    assert_eq!(a.get(b"w9999"), Some(&b"69994"[..]));
    assert_eq!(a.get(b"short"), Some(&b"abc"[..]));
    assert_eq!(a.get(b"long"), Some(&b"0123456789"[..]));
}

#[test]
fn a_conversion_that_traps_changes_nothing_and_names_the_operator_and_the_key_count() {
    let engine = OperatorEngine::new(Limits::default()).unwrap();
    let batched = OperatorModule::load_file(&engine, Path::new(guests::WORDCOUNT_V3))
        .unwrap()
        .named("wordcount@3");
    let per_key = batched.clone().converting_per_key();
    let state = counts(5_000, &[("convtrap", &[1, 0, 0, 0, 0, 0, 0, 0])]);
    for module in [&batched, &per_key] {
        let done = first_call(&engine, module, state.clone());
        let err = match &done.result {
            Ok(_) => panic!("a conversion that traps succeeded"),
            Err(err) => err.to_string(),
        };
        for part in [
            "operator \"counts/count\" (wordcount@3) could not convert the 5001 keys of state \
             wordcount@1 wrote",
            "none was converted and the state stays as wordcount@1 wrote it",
            "asked to trap converting `convtrap`",
        ] {
            assert!(err.contains(part), "{part:?} is not in: {err}");
        }
        let held = done
            .orphaned
            .expect("a trap gives back what the instance held");
        assert!(held.state == state, "the state changed");
    }
}
