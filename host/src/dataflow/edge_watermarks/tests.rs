//! Combined edge watermarks: sent once per advance of the minimum, in order behind records.

use std::time::{Duration, Instant};

use super::*;
use crate::bindings::Event;
use crate::dataflow::mailbox::Taken;
use crate::dataflow::record::Record;
use crate::sched::PolicyKind;
use crate::sched::executor::Executor;
use crate::sched::queue::TenantShares;

fn context() -> PriorityContext {
    PriorityContext::at_source(Instant::now(), 0, Duration::ZERO)
}

/// An edge of `senders` senders to `receivers` mailboxes, each with `senders` real channels
/// grouped on channel `senders`.
fn edge(senders: usize, receivers: usize) -> (EdgeWatermarks, Vec<Arc<Mailbox>>, Executor) {
    let executor = Executor::new(PolicyKind::Fifo.build(), TenantShares::new(1));
    let groups = ChannelGroups::new(senders, std::slice::from_ref(&(0..senders)));
    let mailboxes: Vec<Arc<Mailbox>> = (0..receivers)
        .map(|_| Arc::new(Mailbox::new(100).with_groups(groups.clone())))
        .collect();
    let targets = mailboxes
        .iter()
        .enumerate()
        .map(|(task, mailbox)| Receiver {
            task,
            mailbox: Arc::clone(mailbox),
        })
        .collect();
    (
        EdgeWatermarks::new(senders, targets, senders),
        mailboxes,
        executor,
    )
}

fn record(channel: usize, value: &str) -> Message {
    Message::Record(Record {
        event: Event {
            key: None,
            value: value.as_bytes().to_vec(),
            event_time: 0,
            headers: Vec::new(),
        },
        context: context(),
        channel,
    })
}

/// Everything waiting in `mailbox`, as text: records by value, watermarks as `wm@channel=time`.
fn drain(mailbox: &Mailbox) -> Vec<String> {
    let mut seen = Vec::new();
    loop {
        match mailbox.take(1, &[]).0 {
            Taken::Nothing => return seen,
            Taken::Records(records) => seen.extend(
                records
                    .into_iter()
                    .map(|r| String::from_utf8_lossy(&r.event.value).into_owned()),
            ),
            Taken::Control(Control::Watermark { channel, time, .. }) => {
                seen.push(format!("wm@{channel}={time}"));
            }
            Taken::Control(other) => seen.push(format!("{other:?}")),
        }
    }
}

#[test]
fn the_minimum_goes_to_every_receiver_only_when_it_advances() {
    let (edge, mailboxes, executor) = edge(3, 2);
    let activator = executor.activator();
    edge.advance(0, 10, context(), &activator);
    edge.advance(1, 20, context(), &activator);
    assert!(drain(&mailboxes[0]).is_empty(), "sender 2 has not reported");
    edge.advance(2, 5, context(), &activator);
    edge.advance(0, 30, context(), &activator);
    edge.advance(2, 25, context(), &activator);
    edge.advance(1, 15, context(), &activator);
    // 5 went out, then moved forward to 20 in place (nothing of the group behind it).
    for mailbox in &mailboxes {
        assert_eq!(drain(mailbox), ["wm@3=20"]);
    }
    edge.end(0, context(), &activator);
    edge.end(1, context(), &activator);
    assert_eq!(drain(&mailboxes[1]), ["wm@3=25"]);
    edge.end(2, context(), &activator);
    assert_eq!(drain(&mailboxes[1]), [format!("wm@3={}", i64::MAX)]);
}

#[test]
fn a_combined_watermark_stays_behind_later_records_of_its_group() {
    let (edge, mailboxes, executor) = edge(2, 1);
    let activator = executor.activator();
    let mailbox = &mailboxes[0];
    edge.advance(0, 10, context(), &activator);
    edge.advance(1, 10, context(), &activator);
    mailbox.push_all([record(1, "a")]);
    edge.advance(0, 20, context(), &activator);
    edge.advance(1, 20, context(), &activator);
    edge.advance(0, 30, context(), &activator);
    edge.advance(1, 30, context(), &activator);
    // The mark of 10 cannot move past "a"; the one of 20 moves forward to 30 in place.
    assert_eq!(drain(mailbox), ["wm@2=10", "a", "wm@2=30"]);
}

#[test]
fn a_combined_watermark_moves_forward_in_place_with_nothing_behind_it() {
    let (edge, mailboxes, executor) = edge(1, 1);
    let activator = executor.activator();
    for time in 1..=100 {
        edge.advance(0, time, context(), &activator);
    }
    assert_eq!(drain(&mailboxes[0]), ["wm@1=100"]);
}

#[test]
fn idle_senders_are_left_out_and_all_idle_tells_the_receivers() {
    let (edge, mailboxes, executor) = edge(2, 1);
    let activator = executor.activator();
    let mailbox = &mailboxes[0];
    edge.advance(0, 10, context(), &activator);
    edge.idle(1, context(), &activator);
    assert_eq!(drain(mailbox), ["wm@2=10"]);
    edge.idle(0, context(), &activator);
    assert_eq!(drain(mailbox), ["Idle { channel: 2 }"]);
    // Back, but not ahead: the receivers count the group in again at the same watermark.
    edge.advance(1, 5, context(), &activator);
    assert_eq!(drain(mailbox), ["wm@2=10"]);
    edge.advance(1, 40, context(), &activator);
    assert_eq!(drain(mailbox), ["wm@2=40"]);
}

#[test]
fn channel_groups_number_their_channels_after_the_real_ones() {
    let groups = ChannelGroups::new(5, &[1..3, 3..5]);
    assert_eq!(groups.real(), 5);
    assert_eq!(groups.total(), 7);
    assert_eq!(groups.group_of(0), None);
    assert_eq!(groups.group_of(2), Some(5));
    assert_eq!(groups.group_of(3), Some(6));
    assert!(groups.is_group(6));
    assert!(!groups.is_group(4));
}
