//! Mailbox tests: order, held channels, watermark urgency and back-pressure.

use std::time::{Duration, Instant};

use super::*;
use crate::bindings::Event;

fn event(channel: usize, value: &str) -> Message {
    Message::Record(Record {
        event: Event {
            key: None,
            value: value.as_bytes().to_vec(),
            event_time: 0,
            headers: Vec::new(),
        },
        context: PriorityContext::at_source(Instant::now(), 0, Duration::ZERO),
        channel,
    })
}

fn values(taken: Taken) -> Vec<String> {
    match taken {
        Taken::Records(records) => records
            .into_iter()
            .map(|r| String::from_utf8(r.event.value).unwrap())
            .collect(),
        other => panic!("expected events, got {other:?}"),
    }
}

fn fires_always(_: i64) -> bool {
    true
}

fn watermark(channel: usize, time: i64, ingest: Instant) -> Message {
    Message::Control(Control::Watermark {
        channel,
        time,
        context: PriorityContext::at_source(ingest, time, Duration::ZERO),
    })
}

#[test]
fn the_first_waiting_watermark_is_known_until_it_is_taken() {
    let mailbox = Mailbox::new(10);
    let start = Instant::now();
    let (first, second) = (
        start + Duration::from_millis(1),
        start + Duration::from_millis(2),
    );
    assert_eq!(mailbox.waiting_contexts(fires_always).watermark, None);
    mailbox.push_all([
        event(0, "a"),
        watermark(0, 5, start),
        watermark(0, 6, first),
    ]);
    // The second watermark replaced the first (same channel, nothing between).
    assert_eq!(
        mailbox
            .waiting_contexts(fires_always)
            .watermark
            .map(|c| c.ingest),
        Some(first)
    );
    mailbox.push_all([event(0, "b"), watermark(0, 7, second)]);
    assert!(
        mailbox.waiting_contexts(fires_always).head.is_some(),
        "an event is at the head"
    );
    assert!(matches!(mailbox.take(10, &[]).0, Taken::Records(..)));
    assert_eq!(
        mailbox.waiting_contexts(fires_always).head,
        None,
        "a watermark is at the head"
    );
    assert!(matches!(mailbox.take(10, &[]).0, Taken::Control(_)));
    assert_eq!(
        mailbox
            .waiting_contexts(fires_always)
            .watermark
            .map(|c| c.ingest),
        Some(second)
    );
    mailbox.take(10, &[]);
    mailbox.take(10, &[]);
    assert_eq!(mailbox.waiting_contexts(fires_always).watermark, None);
}

#[test]
fn only_a_watermark_that_fires_lends_its_urgency() {
    let mailbox = Mailbox::new(10);
    let start = Instant::now();
    let later = start + Duration::from_millis(1);
    mailbox.push_all([
        watermark(0, 5, start),
        event(0, "a"),
        watermark(0, 10, later),
    ]);
    let from_ten = |time: i64| time >= 10;
    assert_eq!(
        mailbox
            .waiting_contexts(from_ten)
            .watermark
            .map(|c| c.ingest),
        Some(later)
    );
    assert_eq!(mailbox.waiting_contexts(|_| false).watermark, None);
}

#[test]
fn taking_a_watermark_past_a_held_channel_keeps_the_held_one_first() {
    let mailbox = Mailbox::new(10);
    let start = Instant::now();
    let later = start + Duration::from_millis(1);
    mailbox.push_all([watermark(0, 5, start), watermark(1, 6, later)]);
    // Channel 0 waits for a barrier: channel 1's watermark is taken first.
    let (taken, _) = mailbox.take(10, &[true, false]);
    assert!(matches!(
        taken,
        Taken::Control(Control::Watermark { channel: 1, .. })
    ));
    assert_eq!(
        mailbox
            .waiting_contexts(fires_always)
            .watermark
            .map(|c| c.ingest),
        Some(start),
        "the held channel's watermark is the one still waiting"
    );
}

#[test]
fn events_stop_at_a_control_message() {
    let mailbox = Mailbox::new(10);
    mailbox.push_all([
        event(0, "a"),
        event(0, "b"),
        Message::Control(Control::End { channel: 0 }),
        event(0, "c"),
    ]);
    assert_eq!(values(mailbox.take(10, &[]).0), ["a", "b"]);
    assert!(matches!(
        mailbox.take(10, &[]).0,
        Taken::Control(Control::End { channel: 0 })
    ));
    assert_eq!(values(mailbox.take(10, &[]).0), ["c"]);
    assert!(matches!(mailbox.take(10, &[]).0, Taken::Nothing));
}

#[test]
fn held_channels_keep_their_messages_in_order() {
    let mailbox = Mailbox::new(10);
    mailbox.push_all([
        event(0, "a0"),
        Message::Control(Control::Barrier { channel: 0, id: 1 }),
        event(0, "after"),
        event(1, "b0"),
        event(1, "b1"),
    ]);
    assert_eq!(values(mailbox.take(10, &[]).0), ["a0"]);
    assert!(matches!(
        mailbox.take(10, &[]).0,
        Taken::Control(Control::Barrier { id: 1, .. })
    ));
    // Channel 0 is aligned and held: channel 1's events pass it.
    assert_eq!(values(mailbox.take(10, &[true, false]).0), ["b0", "b1"]);
    assert!(!mailbox.has_work(&[true, false]));
    assert!(mailbox.has_work(&[false, false]));
    assert_eq!(values(mailbox.take(10, &[]).0), ["after"]);
}

#[test]
fn events_of_a_held_channel_do_not_block_the_other_channels() {
    let mailbox = Mailbox::new(2);
    mailbox.push_all([event(0, "a"), event(0, "b")]);
    assert!(mailbox.register_blocked(7), "full");
    // Channel 0 delivered a barrier and waits for channel 1's: channel 1's producer must
    // get through, or the alignment never completes.
    assert_eq!(mailbox.hold(0), [7]);
    assert!(!mailbox.is_full());
    mailbox.push_all([event(1, "c"), event(0, "d"), event(1, "e")]);
    assert!(mailbox.is_full(), "channel 1 filled it");
    assert_eq!(values(mailbox.take(10, &[true, false]).0), ["c", "e"]);
    assert!(!mailbox.is_full());
    // Released: everything counts again.
    mailbox.release_held();
    assert!(mailbox.is_full());
    // However long an alignment takes, a held channel holds a bounded amount.
    let slack = Mailbox::new(1);
    slack.hold(0);
    slack.push_all((0..HELD_SLACK).map(|i| event(0, &i.to_string())));
    assert!(slack.is_full());
}

#[test]
fn taking_from_a_full_mailbox_wakes_its_producers() {
    let mailbox = Mailbox::new(2);
    mailbox.push_all([event(0, "a"), event(0, "b")]);
    assert!(mailbox.register_blocked(7));
    let (_, wake) = mailbox.take(1, &[]);
    assert_eq!(wake, [7]);
}

/// Everything waiting, in the order the actor takes it.
fn drain(mailbox: &Mailbox) -> Vec<String> {
    std::iter::from_fn(|| match mailbox.take(10, &[]).0 {
        Taken::Nothing => None,
        Taken::Records(records) => Some(format!("records {}", records.len())),
        Taken::Control(Control::Watermark { channel, time, .. }) => {
            Some(format!("wm {channel}@{time}"))
        }
        Taken::Control(other) => Some(format!("{other:?}")),
    })
    .collect()
}

#[test]
fn a_watermark_moves_its_channels_open_mark_forward_but_never_past_its_records() {
    let mailbox = Mailbox::new(100);
    let start = Instant::now();
    // Channel 0's watermark 5, then records and watermarks of other channels, then channel
    // 0's watermark 9: the waiting mark of channel 0 moves to 9 in place.
    mailbox.push_all([
        watermark(0, 5, start),
        event(1, "a"),
        watermark(1, 3, start),
    ]);
    mailbox.push_all([watermark(0, 9, start), watermark(1, 4, start)]);
    let taken = drain(&mailbox);
    assert_eq!(taken, ["wm 0@9", "records 1", "wm 1@4"]);
    // A record of the channel closes its mark: the next watermark waits behind the record.
    mailbox.push_all([
        watermark(0, 10, start),
        event(0, "b"),
        watermark(0, 12, start),
    ]);
    mailbox.push_all([watermark(0, 14, start)]);
    let taken = drain(&mailbox);
    assert_eq!(taken, ["wm 0@10", "records 1", "wm 0@14"]);
}
