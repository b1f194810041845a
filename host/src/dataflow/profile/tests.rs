//! Profile tests: costs, the deadline converter and which watermarks are urgent.

use super::*;

fn profile(window: Option<WindowDef>) -> Arc<OperatorProfile> {
    OperatorProfile::new(ProfileSetup {
        name: "job/op".into(),
        tenant: 0,
        latency_target: Duration::from_millis(50),
        window,
        watermark_delay_ms: 0,
        ns_per_fuel: 1.0,
    })
}

#[test]
fn a_stateless_operator_passes_the_deadline_on_minus_the_cost_downstream() {
    let op = profile(None);
    let next = profile(None);
    next.record(2_000_000, 1); // 2 ms per message at 1 ns per fuel
    op.set_successors(vec![Arc::clone(&next)]);
    let now = Instant::now();
    let context = PriorityContext::at_source(now, 0, Duration::from_millis(50));
    let priority = op.priority(&context);
    assert_eq!(priority.due, now + Duration::from_millis(48));
    assert_eq!(op.downstream_ns(), 2_000_000);
}

#[test]
fn only_a_watermark_past_the_last_instant_of_a_window_fires() {
    let tumbling = profile(Some(WindowDef {
        kind: WindowKind::Tumbling,
        size: 1000,
        slide: 1000,
        gap: 0,
        allowed_lateness: 0,
    }));
    // Windows [0, 1000), [1000, 2000): their last instants are 999 and 1999.
    assert!(!tumbling.watermark_fires(500, 998));
    assert!(tumbling.watermark_fires(500, 999));
    assert!(
        !tumbling.watermark_fires(999, 1998),
        "999 closed [0, 1000) already"
    );
    assert!(tumbling.watermark_fires(998, 5000));
    assert!(!tumbling.watermark_fires(1500, 1500), "not an advance");
    assert!(
        tumbling.watermark_fires(i64::MIN, -1),
        "the first watermark"
    );
    let sliding = profile(Some(WindowDef {
        kind: WindowKind::Sliding,
        size: 1000,
        slide: 250,
        gap: 0,
        allowed_lateness: 0,
    }));
    // Windows end every 250 ms: [-750, 250), [-500, 500), ...
    assert!(!sliding.watermark_fires(250, 498));
    assert!(sliding.watermark_fires(250, 499));
    let session = profile(Some(WindowDef {
        kind: WindowKind::Session,
        size: 0,
        slide: 0,
        gap: 100,
        allowed_lateness: 0,
    }));
    assert!(session.watermark_fires(500, 501), "sessions end anywhere");
    // A watermark that closes no window here may close one downstream.
    let hourly = profile(Some(WindowDef {
        kind: WindowKind::Tumbling,
        size: 3_600_000,
        slide: 3_600_000,
        gap: 0,
        allowed_lateness: 0,
    }));
    hourly.set_successors(vec![Arc::clone(&tumbling)]);
    assert!(!hourly.watermark_fires(500, 998));
    assert!(
        hourly.watermark_fires(500, 999),
        "closes the 1 s window downstream"
    );
    assert!(
        profile(None).watermark_fires(500, 501),
        "timers may fire anywhere"
    );
}

#[test]
fn a_message_that_only_feeds_a_later_window_is_not_urgent() {
    let window = WindowDef {
        kind: WindowKind::Tumbling,
        size: 10_000,
        slide: 10_000,
        gap: 0,
        allowed_lateness: 0,
    };
    let op = profile(Some(window));
    let now = Instant::now();
    // Event time runs with wall time: an event at the start of a 10 s window fires in
    // about 10 s, one at its end right away.
    let early = PriorityContext::at_source(now, 0, Duration::from_millis(50));
    let late = PriorityContext::at_source(now, 9_999, Duration::from_millis(50));
    let early_due = op.priority(&early).due;
    let late_due = op.priority(&late).due;
    assert!(
        early_due >= now + Duration::from_millis(9_999 + 50),
        "{:?}",
        early_due - now
    );
    assert_eq!(late_due, now + Duration::from_millis(50));
    // An urgent message of a stateless job goes before the early-window one.
    let urgent = profile(None).priority(&PriorityContext::at_source(
        now,
        0,
        Duration::from_millis(100),
    ));
    assert!(urgent.due < early_due);
    // A watermark carrying the early event's context may fire the window before it: it
    // is due one target after that event, not deferred to the next window.
    assert_eq!(
        op.frontier_priority(&early).due,
        now + Duration::from_millis(50)
    );
}

#[test]
fn a_waiting_watermark_makes_the_work_ahead_of_it_urgent() {
    let op = profile(Some(WindowDef {
        kind: WindowKind::Tumbling,
        size: 10_000,
        slide: 10_000,
        gap: 0,
        allowed_lateness: 0,
    }));
    let now = Instant::now();
    let target = Duration::from_millis(50);
    let early = PriorityContext::at_source(now, 0, target);
    let urgent = now + target;
    let due = |pending: Pending| op.best(&pending).map(|p| p.due);
    assert_eq!(due(Pending::default()), None, "nothing pending");
    let deferred = due(Pending {
        head: Some(early),
        ..Pending::default()
    })
    .unwrap();
    assert!(
        deferred > urgent + Duration::from_secs(9),
        "an early event waits"
    );
    // The same event with a watermark behind it: the window may fire, so it is urgent.
    assert_eq!(
        due(Pending {
            head: Some(early),
            watermark: Some(early),
            ..Pending::default()
        }),
        Some(urgent)
    );
    // A batch in flight and a retry ahead of a watermark are urgent too.
    for pending in [
        Pending {
            in_flight: Some(InFlight {
                context: early,
                fires: false,
            }),
            watermark: Some(early),
            ..Pending::default()
        },
        Pending {
            retry: Some(early),
            watermark: Some(early),
            ..Pending::default()
        },
    ] {
        assert_eq!(due(pending), Some(urgent), "{pending:?}");
    }
    // Firings are never deferred, with or without a watermark waiting.
    for pending in [
        Pending {
            in_flight: Some(InFlight {
                context: early,
                fires: true,
            }),
            ..Pending::default()
        },
        Pending {
            due: Some(early),
            head: Some(early),
            ..Pending::default()
        },
    ] {
        assert_eq!(due(pending), Some(urgent), "{pending:?}");
    }
    // Without a watermark a batch in flight keeps its deferred deadline.
    assert_eq!(
        due(Pending {
            in_flight: Some(InFlight {
                context: early,
                fires: false,
            }),
            ..Pending::default()
        }),
        Some(deferred)
    );
}

#[test]
fn costs_are_an_average_of_fuel_per_message() {
    let op = profile(None);
    op.record(1_000, 10);
    assert_eq!(op.fuel_per_message(), 100.0);
    op.record(2_000, 10);
    assert!((op.fuel_per_message() - 120.0).abs() < 1e-9);
}
