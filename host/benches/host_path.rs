//! Host-path throughput: a trivial filter operator called through the full call path (store,
//! fuel budget, async call future polled slice by slice), for batch sizes 1, 16, 64 and 256,
//! next to the same filter as native Rust in the same run.
//!
//! `cargo bench -p cameo-host --bench host_path`

#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

use std::future::Future;
use std::path::Path;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use cameo_host::internals::{
    Accounts, Batch, BatchKind, CallContext, CallDone, CallInput, PriorityContext, Record, Slot,
    call, fresh_slot,
};
use cameo_host::{Event, Limits, OperatorEngine, OperatorModule};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};

fn block_on<F: Future>(future: F) -> F::Output {
    let mut future = std::pin::pin!(future);
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(out) = future.as_mut().poll(&mut cx) {
            return out;
        }
    }
}

fn events(n: usize) -> Vec<Event> {
    (0..n)
        .map(|i| Event {
            key: Some(format!("k{}", i % 16).into_bytes()),
            value: format!(r#"{{"key":"k{}","value":{}}}"#, i % 16, i % 100).into_bytes(),
            event_time: i as i64,
            headers: Vec::new(),
        })
        .collect()
}

/// The same filter, natively: parse the JSON value and keep `value >= 50`.
fn native_filter(batch: &[Event]) -> Vec<Event> {
    batch
        .iter()
        .filter(|e| {
            serde_json::from_slice::<serde_json::Value>(&e.value)
                .ok()
                .and_then(|v| v.get("value").and_then(serde_json::Value::as_f64))
                .is_some_and(|v| v >= 50.0)
        })
        .cloned()
        .collect()
}

fn bench(c: &mut Criterion) {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let component = cameo_host::build_rust(&repo.join("example-operators/rust/filter"))
        .unwrap_or_else(|err| panic!("building the filter operator: {err}"));
    let limits = Limits::default();
    let engine = OperatorEngine::new(limits.clone()).unwrap_or_else(|err| panic!("{err}"));
    let module =
        OperatorModule::load_file(&engine, &component).unwrap_or_else(|err| panic!("{err}"));
    let accounts = Accounts::unlimited();
    let cx = CallContext {
        operator: Arc::from("bench/filter"),
        module,
        config: Arc::from(r#"{"field":"value","min":50}"#),
        limits,
        window: None,
        join: None,
        accounts: accounts.clone(),
        convert_from: None,
    };
    let mut slot = Some(fresh_slot(&engine, "bench/filter", &accounts));
    let mut group = c.benchmark_group("filter");
    for batch in [1usize, 16, 64, 256] {
        let input = events(batch);
        group.throughput(Throughput::Elements(batch as u64));
        group.bench_with_input(BenchmarkId::new("wasm", batch), &input, |b, input| {
            b.iter(|| {
                let context =
                    PriorityContext::at_source(Instant::now(), 0, Duration::from_millis(100));
                let call_input = CallInput::Batch {
                    batch: Batch::new(
                        input
                            .iter()
                            .map(|event| Record::new(event.clone(), context)),
                    ),
                    kind: BatchKind::Process,
                };
                let Some(current) = slot.take() else {
                    panic!("instance lost")
                };
                let done: CallDone = block_on(call::start(current, call_input, cx.clone()));
                let kept = match done.result {
                    Ok(output) => output.events.len(),
                    Err(err) => panic!("filter failed: {err}"),
                };
                slot = done.instance.map(|instance| Slot::Live(Box::new(instance)));
                kept
            })
        });
        group.bench_with_input(BenchmarkId::new("native", batch), &input, |b, input| {
            b.iter(|| native_filter(&input.clone()).len())
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
