//! Window tests: assignment, lateness, dropped sessions, merges, firing and expiry.

use super::*;

fn def(kind: WindowKind, size: i64, slide: i64, gap: i64, lateness: i64) -> WindowDef {
    WindowDef {
        kind,
        size,
        slide,
        gap,
        allowed_lateness: lateness,
    }
}

fn event(key: &str, t: i64) -> Event {
    Event {
        key: Some(key.as_bytes().to_vec()),
        value: Vec::new(),
        event_time: t,
        headers: Vec::new(),
    }
}

#[test]
fn tumbling_windows_are_aligned_and_half_open() {
    let d = def(WindowKind::Tumbling, 10, 10, 0, 0);
    assert_eq!(d.assign(0), [(0, 10)]);
    assert_eq!(d.assign(9), [(0, 10)]);
    assert_eq!(d.assign(10), [(10, 20)]);
    assert_eq!(d.assign(-1), [(-10, 0)]);
}

#[test]
fn a_sliding_window_event_belongs_to_size_over_slide_windows() {
    let d = def(WindowKind::Sliding, 10, 5, 0, 0);
    assert_eq!(d.assign(12), [(5, 15), (10, 20)]);
    assert_eq!(d.assign(10), [(5, 15), (10, 20)]);
    assert_eq!(d.first_end(12), Some(15));
    assert_eq!(
        d.first_end(i64::MAX),
        d.assign(i64::MAX).first().map(|w| w.1)
    );
    assert_eq!(
        def(WindowKind::Tumbling, 10, 10, 0, 0).first_end(-1),
        Some(0)
    );
}

#[test]
fn events_behind_the_watermark_past_lateness_are_late() {
    let d = def(WindowKind::Tumbling, 10, 10, 0, 5);
    let mut state = WindowState::default();
    // Window [0,10) max timestamp 9; with lateness 5 it accepts events until watermark 13.
    let plan = state.plan(&d, &[event("a", 3)], 13);
    assert_eq!(plan.late, []);
    let plan = state.plan(&d, &[event("a", 3), event("a", 15)], 14);
    assert_eq!(
        plan.late,
        [LateEvent {
            position: 0,
            missed: vec![(0, 10)],
            why: Lateness::Expired
        }]
    );
    assert_eq!(plan.assignments, [(0, 1)]);
}

#[test]
fn an_event_late_for_some_sliding_windows_reports_the_ones_it_missed() {
    let d = def(WindowKind::Sliding, 10, 5, 0, 0);
    let mut state = WindowState::default();
    // Event at 12 is in [5,15) and [10,20); at watermark 14, [5,15) has closed.
    let plan = state.plan(&d, &[event("a", 12)], 14);
    assert_eq!(plan.assignments.len(), 1, "added to the open window");
    assert_eq!(
        plan.panes[0].pane,
        PaneKey::new(Some(b"a".to_vec()), 10, 20)
    );
    assert_eq!(
        plan.late,
        [LateEvent {
            position: 0,
            missed: vec![(5, 15)],
            why: Lateness::Expired
        }]
    );
}

#[test]
fn an_event_in_the_gap_of_a_dropped_session_is_late_not_a_new_session() {
    let d = def(WindowKind::Session, 0, 0, 10, 0);
    let mut state = WindowState::default();
    let plan = state.plan(&d, &[event("a", 0), event("a", 5)], i64::MIN);
    for (pane, acc) in plan.panes.iter().zip([b"x".to_vec()]) {
        state.apply(pane, &acc);
    }
    // The session [0,15) fires at watermark 14 and is dropped.
    let due = state.due(14);
    state.mark_fired(&due[0]);
    assert_eq!(state.expire(&d, 14), 1);
    // An event at 12 is on time for its own window [12,22) but would have joined the
    // dropped session: it is late.
    let plan = state.plan(&d, &[event("a", 12), event("b", 12)], 14);
    assert_eq!(
        plan.late,
        [LateEvent {
            position: 0,
            missed: vec![(12, 22)],
            why: Lateness::PurgedSession
        }]
    );
    assert_eq!(plan.panes.len(), 1, "another key is not affected");
    // Once no on-time event can reach the dropped session, it is forgotten.
    state.expire(&d, 24);
    assert!(state.purged.is_empty());
}

#[test]
fn sessions_of_a_key_merge_when_events_bridge_the_gap() {
    let d = def(WindowKind::Session, 0, 0, 10, 0);
    let mut state = WindowState::default();
    let plan = state.plan(&d, &[event("a", 0), event("a", 30)], i64::MIN);
    assert_eq!(plan.panes.len(), 2);
    for (pane, acc) in plan.panes.iter().zip([b"x".to_vec(), b"y".to_vec()]) {
        state.apply(pane, &acc);
    }
    // An event at 25 spans [25,35) and so extends the session [30,40).
    let plan = state.plan(&d, &[event("a", 25)], i64::MIN);
    let pane_a = |start, end| PaneKey::new(Some(b"a".to_vec()), start, end);
    assert_eq!(plan.panes[0].pane, pane_a(25, 40));
    assert_eq!(plan.panes[0].absorbs, [pane_a(30, 40)]);
    // Events at 5 and 22 span [5,15) and [22,32): each merges with an existing session.
    let plan = state.plan(&d, &[event("a", 5), event("a", 22)], i64::MIN);
    assert_eq!(plan.panes.len(), 2);
    assert_eq!(plan.panes[0].pane, pane_a(0, 15));
    assert_eq!(plan.panes[1].pane, pane_a(22, 40));
}

#[test]
fn due_panes_fire_once_and_expire_after_lateness() {
    let d = def(WindowKind::Tumbling, 10, 10, 0, 5);
    let mut state = WindowState::default();
    let plan = state.plan(&d, &[event("a", 1), event("b", 11)], i64::MIN);
    for pane in &plan.panes {
        state.apply(pane, b"acc");
    }
    assert_eq!(state.due(8), Vec::<PaneKey>::new());
    let due = state.due(9);
    assert_eq!(due, [PaneKey::new(Some(b"a".to_vec()), 0, 10)]);
    state.mark_fired(&due[0]);
    assert!(state.due(9).is_empty());
    assert_eq!(state.expire(&d, 13), 0);
    assert_eq!(state.expire(&d, 14), 1);
    assert_eq!(state.len(), 1);
}

/// Found by the `window_calls` fuzz target: an event in no window the host can represent
/// (every sliding window holding it would end past `i64::MAX`) is late with no windows missed,
/// and says why, rather than being taken for one that missed them all.
#[test]
fn an_event_past_the_last_representable_sliding_window_is_late_for_no_window() {
    let d = def(WindowKind::Sliding, 48_830, 49, 0, 0);
    let mut windows = WindowState::default();
    let plan = windows.plan(&d, &[event("k", i64::MAX)], i64::MAX);
    assert!(plan.panes.is_empty() && plan.assignments.is_empty());
    assert_eq!(
        plan.late,
        [LateEvent {
            position: 0,
            missed: Vec::new(),
            why: Lateness::NoWindow,
        }]
    );
}
