//! Source task tests: pacing, back-pressure, barriers and closing watermarks.

use super::*;
use crate::dataflow::mailbox::{Control, Mailbox, Taken};
use crate::dataflow::profile::{OperatorProfile, ProfileSetup};
use crate::dataflow::router::{Edge, Partitioning, Target};
use crate::dataflow::source::generator::{Generator, GeneratorSpec};
use crate::sched::PolicyKind;
use crate::sched::executor::Executor;
use crate::sched::queue::TenantShares;

/// A generator of `count` events at `rate` feeding one mailbox of `capacity` events, in
/// chunks of `chunk`. The executor has no workers: the test runs the task itself.
fn generator_into(
    count: u64,
    rate: f64,
    chunk: usize,
    capacity: usize,
) -> (SourceTask<Generator>, Arc<Mailbox>, Executor) {
    let input = Generator::new(GeneratorSpec {
        count,
        keys: 3,
        payload_bytes: 0,
        seed: 1,
        ..GeneratorSpec::default()
    });
    source_into(input, rate, chunk, capacity, Vec::new())
}

/// A source reading `input` into one mailbox; see [`generator_into`].
fn source_into<I: Input>(
    input: I,
    rate: f64,
    chunk: usize,
    capacity: usize,
    windows: Vec<WindowDef>,
) -> (SourceTask<I>, Arc<Mailbox>, Executor) {
    let executor = Executor::new(PolicyKind::Fifo.build(), TenantShares::new(1));
    let mailbox = Arc::new(Mailbox::new(capacity));
    let profile = OperatorProfile::new(ProfileSetup {
        name: "job/op".into(),
        tenant: 0,
        latency_target: Duration::from_millis(100),
        window: None,
        watermark_delay_ms: 0,
        ns_per_fuel: 1.0,
    });
    let target = Target::Actor {
        task: 99,
        profile,
        mailbox: Arc::clone(&mailbox),
        channel: 0,
    };
    let metrics = Arc::new(JobMetrics::default());
    let source = Source {
        name: "in".into(),
        router: Router::new(vec![Edge::new(vec![target], Partitioning::Forward)], 0, 1),
        chunk,
        dead_letters: Arc::new(DeadLetters::new(
            None,
            Default::default(),
            0,
            Arc::clone(&metrics),
        )),
        metrics,
        completion: Arc::new(Completion::new(1)),
        activator: executor.activator(),
        checkpointer: None,
        skip: 0,
        from_time: None,
        idle_timeout: None,
        latency_target: Duration::from_millis(100),
        rate,
        watermark_delay_ms: 0,
        windows,
    };
    (SourceTask::new(source, input, 7), mailbox, executor)
}

/// Events at the given event times, then the end.
struct Times(std::collections::VecDeque<i64>, u64);

impl Input for Times {
    fn next(&mut self, _skip: u64) -> Next {
        let Some(time) = self.0.pop_front() else {
            return Next::Ended;
        };
        self.1 += 1;
        let event = Event {
            key: None,
            value: time.to_string().into_bytes(),
            event_time: time,
            headers: Vec::new(),
        };
        Next::Item(self.1, Item::Event(event))
    }
}

#[test]
fn an_event_past_a_window_end_follows_the_watermark_that_closes_the_window() {
    let tumbling = WindowDef {
        kind: crate::time::window::WindowKind::Tumbling,
        size: 10,
        slide: 10,
        gap: 0,
        allowed_lateness: 0,
    };
    let input = Times([5, 8, 12, 13].into(), 0);
    let (mut task, mailbox, _executor) = source_into(input, 0.0, 64, 100, vec![tumbling]);
    let started = *task.started.get_or_insert_with(Instant::now);
    assert_eq!(task.run(started), None);
    let mut seen = Vec::new();
    loop {
        match mailbox.take(100, &[]).0 {
            Taken::Nothing => break,
            Taken::Records(events) => seen.push(format!(
                "events {}",
                events
                    .iter()
                    .map(|r| r.event.event_time.to_string())
                    .collect::<Vec<_>>()
                    .join(",")
            )),
            Taken::Control(Control::Watermark { time, .. }) => {
                seen.push(format!("watermark {time}"))
            }
            Taken::Control(Control::End { .. }) => seen.push("end".into()),
            Taken::Control(other) => seen.push(format!("{other:?}")),
        }
    }
    // 12 makes the watermark 11, which closes [0, 10): it goes ahead of 12 and 13, so the
    // window need not wait for them. (The first event opens with a watermark too.)
    assert_eq!(
        seen,
        [
            "watermark 4",
            "events 5,8",
            "watermark 11",
            "events 12,13",
            "watermark 12",
            "end"
        ]
    );
}

/// Events waiting in `mailbox`, taking them out (control messages are dropped).
fn drain(mailbox: &Mailbox) -> (usize, bool) {
    let (mut events, mut ended) = (0, false);
    loop {
        match mailbox.take(1000, &[]).0 {
            Taken::Nothing => return (events, ended),
            Taken::Records(batch) => events += batch.len(),
            Taken::Control(Control::End { .. }) => ended = true,
            Taken::Control(_) => {}
        }
    }
}

#[test]
fn a_paced_source_sends_what_is_due_and_asks_to_run_when_more_is() {
    let (mut task, mailbox, _executor) = generator_into(100, 1000.0, 64, 1000);
    let started = *task.started.get_or_insert_with(Instant::now);
    let ms = |n: u64| started + Duration::from_millis(n);
    let (start, at_10, at_11) = (ms(0), ms(10), ms(11));
    assert_eq!(
        task.run(start),
        Some(ms(1)),
        "the second event is due 1 ms in"
    );
    assert_eq!(drain(&mailbox), (1, false));
    // Ten more fell due meanwhile: they go out together.
    assert_eq!(task.run(at_10), Some(at_11));
    assert_eq!(drain(&mailbox), (10, false));
    assert_eq!(task.offset, 11);
}

#[test]
fn a_barrier_goes_ahead_of_a_chunk_held_back_and_covers_only_what_was_sent() {
    use crate::state::checkpoint::{CheckpointStore, Checkpointer, Participants};
    let dir = tempfile::tempdir().unwrap();
    let (mut task, mailbox, _executor) = generator_into(10, 0.0, 4, 2);
    let participants = Participants {
        sources: vec!["in".into()],
        actors: vec!["job/op".into()],
        sinks: Vec::new(),
    };
    let checkpointer = Checkpointer::new(CheckpointStore::new(dir.path(), "job"), participants, 0);
    task.source.checkpointer = Some(Arc::clone(&checkpointer));
    let now = *task.started.get_or_insert_with(Instant::now);
    assert_eq!(
        task.run(now),
        Some(now + WAIT_STEP),
        "the second chunk is held back"
    );
    assert_eq!(checkpointer.trigger(), Some(1));
    // The receiver may be aligning on this checkpoint and unable to drain: the barrier
    // must not wait for room behind the held chunk.
    task.run(now);
    assert_eq!((task.offset, task.covered()), (8, 4));
    let mut seen = Vec::new();
    loop {
        match mailbox.take(100, &[]).0 {
            Taken::Nothing => break,
            Taken::Records(events) => seen.push(format!("{} events", events.len())),
            Taken::Control(Control::Barrier { id, .. }) => seen.push(format!("barrier {id}")),
            Taken::Control(_) => {}
        }
    }
    assert_eq!(seen, ["4 events", "barrier 1"]);
}

#[test]
fn a_full_mailbox_holds_the_chunk_back_until_it_drains() {
    let (mut task, mailbox, _executor) = generator_into(10, 0.0, 4, 2);
    let now = *task.started.get_or_insert_with(Instant::now);
    // The first chunk fills the mailbox; the second is made, then held back.
    assert_eq!(task.run(now), Some(now + WAIT_STEP));
    assert_eq!(task.emitter.len(), 4);
    assert_eq!(task.run(now), Some(now + WAIT_STEP), "still full");
    assert_eq!(task.emitter.len(), 4, "no more input taken while full");
    assert_eq!(drain(&mailbox), (4, false));
    // Room again: the held chunk goes out and fills it; the last two wait.
    assert_eq!(task.run(now), Some(now + WAIT_STEP));
    assert_eq!(drain(&mailbox), (4, false));
    // Then they go out, and the end of the stream after them.
    assert_eq!(task.run(now), None);
    assert_eq!(drain(&mailbox), (2, true));
    assert_eq!(task.offset, 10);
    assert_eq!(task.run(now), None, "an ended source stays ended");
}

#[test]
fn fields_are_found_by_name_dotted_path_or_pointer() {
    let json = serde_json::json!({"a": {"b": 7}, "a.b": 1, "top": "x"});
    assert_eq!(lookup(&json, "top"), Some(&serde_json::json!("x")));
    assert_eq!(
        lookup(&json, "a.b"),
        Some(&serde_json::json!(1)),
        "a literal name wins"
    );
    assert_eq!(lookup(&json, "/a/b"), Some(&serde_json::json!(7)));
    let nested = serde_json::json!({"order": {"time": 5}});
    assert_eq!(lookup(&nested, "order.time"), Some(&serde_json::json!(5)));
    assert_eq!(lookup(&nested, "order.missing"), None);
}
