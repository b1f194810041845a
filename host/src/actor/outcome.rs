//! Applying a finished call: its output downstream, its timers registered, its late events
//! passed on, and its failure handled (retries one by one, dead letters).

use super::call::{BatchKind, CallDone, CallInput};
use super::{Actor, Due};
use crate::bindings::Header;
use crate::dataflow::record::Record;
use crate::metrics::CallFigures;
use crate::sched::executor::Activator;
use crate::time::window::{LateEvent, Lateness};

impl Actor {
    /// Applies a finished call: outputs downstream, timers registered, failures handled.
    pub(super) fn finish(&mut self, done: CallDone, activator: &Activator) {
        let ended = std::time::Instant::now();
        let figures = CallFigures {
            fuel: done.fuel,
            slices: std::mem::take(&mut self.call_slices),
            wall: self
                .call_started
                .take()
                .map(|started| started.elapsed())
                .unwrap_or_default(),
            events: match &done.input {
                CallInput::Batch { batch, .. } => batch.len() as u64,
                _ => 0,
            },
            outputs: done
                .result
                .as_ref()
                .map_or(0, |out| out.events.len() as u64),
            ended: Some(ended),
        };
        let events = match &done.input {
            CallInput::Batch { batch, .. } if !batch.is_empty() => batch.len(),
            _ => 0,
        };
        self.shadow_call(events as u64, done.fuel, figures.wall);
        let shadow = self.is_shadow();
        if !shadow {
            let inputs = match &done.input {
                CallInput::Batch { batch, .. } => Some(batch),
                _ => None,
            };
            self.links.metrics.add_call(
                &self.links.operator,
                &self.label,
                figures,
                inputs.into_iter().flat_map(|batch| batch.contexts()),
            );
        }
        // The profile is a cost per event: firings and timers (one call per pane or timer,
        // usually cheap) would drag it towards their own cost. A shadow's cost is its own.
        if events > 0 && !shadow {
            self.links.profile.record(done.fuel, events);
        }
        for (event, reason) in &done.lost {
            self.dead_letter(Some(event), None, reason);
        }
        self.instance = done.instance;
        if let Some(held) = done.orphaned {
            // The call left its instance unusable: the next call makes a fresh one.
            self.links
                .metrics
                .add_restart(&self.links.operator, &self.label);
            self.held = held;
        }
        if let Some(reason) = done.fatal {
            if shadow {
                self.shadow_fatal(&reason);
            } else {
                self.links.completion.fail(reason);
            }
            return;
        }
        let context = done.input.output_context();
        match done.result {
            Ok(output) => {
                // A timer at or before the watermark fires at once, unless a timer firing
                // registered it: then it waits for the next advance of the watermark, so an
                // on-timer that registers itself again cannot fire forever.
                let firing = matches!(done.input, CallInput::Timer { .. });
                for (key, time) in output.timers {
                    if time <= self.watermarks.current() && !firing {
                        let context = context.unwrap_or_else(|| self.context_now());
                        self.due.push_back(Due::Timer { time, key, context });
                    } else {
                        self.timers.register(key, time);
                    }
                }
                if let Some(context) = context
                    && !self.shadow_output(&output.events)
                {
                    let records = output
                        .events
                        .into_iter()
                        .map(|event| Record::new(event, context))
                        .collect();
                    self.links.router.send(records, activator);
                }
                self.cx.accounts.budget.release(output.charged);
                if !output.late.is_empty() {
                    self.send_late(&done.input, &output.late, activator);
                }
            }
            Err(failure) => {
                if !shadow {
                    self.links.metrics.add_failure(
                        &self.links.operator,
                        &self.label,
                        failure.kind(),
                    );
                }
                let reason = failure.to_string();
                match done.input {
                    CallInput::Batch { batch, .. } if batch.len() > 1 => {
                        tracing::debug!(
                            operator = &*self.label,
                            "a batch of {} failed ({reason}); retrying its events one by one",
                            batch.len()
                        );
                        for record in batch.into_records().rev() {
                            self.retry.push_front(record);
                        }
                    }
                    CallInput::Batch { batch, .. } => {
                        for event in batch.events() {
                            self.dead_letter(Some(event), None, &reason);
                        }
                    }
                    CallInput::Fire { pane, .. } => {
                        let reason = format!(
                            "window [{}, {}) failed to fire: {reason}",
                            pane.start, pane.end
                        );
                        self.dead_letter(None, Some(pane.end), &reason);
                    }
                    CallInput::Timer { time, .. } => {
                        self.dead_letter(None, Some(time), &reason);
                    }
                }
            }
        }
    }

    /// Records a dead letter: the job's, or for a shadow a failure in its report.
    pub(super) fn dead_letter(
        &self,
        event: Option<&crate::bindings::Event>,
        time: Option<i64>,
        reason: &str,
    ) {
        if self.is_shadow() {
            self.shadow_failure(reason);
        } else {
            self.links.dead_letters.record(
                self.passed_barrier,
                &self.links.operator,
                event,
                time,
                reason,
            );
        }
    }

    /// Sends a batch's late events to the late output, each with a header naming the windows
    /// it missed, or to the dead letters with the reason.
    fn send_late(&mut self, input: &CallInput, late: &[LateEvent], activator: &Activator) {
        let CallInput::Batch {
            batch,
            kind: BatchKind::Window { watermark },
        } = input
        else {
            return;
        };
        let lateness = self.cx.window.map_or(0, |def| def.allowed_lateness);
        let picked = late
            .iter()
            .filter_map(|late| Some((batch.record(late.position)?, late)));
        match &mut self.links.late {
            Some(router) => {
                let records = picked
                    .map(|(mut record, late)| {
                        record.event.headers.push(Header {
                            name: LATE_WINDOWS_HEADER.into(),
                            value: windows_json(&late.missed).into_bytes(),
                        });
                        record
                    })
                    .collect();
                router.send(records, activator);
            }
            None => {
                for (Record { event, .. }, late) in picked {
                    let time = event.event_time;
                    let missed = windows_json(&late.missed);
                    let reason = match late.why {
                        Lateness::NoWindow => format!(
                            "event time {time} is past the last window the host can represent; \
                             give event times in milliseconds since the Unix epoch"
                        ),
                        Lateness::Expired => format!(
                            "late: event time {time} is behind the watermark {watermark} by more \
                             than the allowed lateness of {lateness} ms for its windows {missed}"
                        ),
                        Lateness::PurgedSession => format!(
                            "late: event time {time} falls in a session of its key that already \
                             fired and was dropped at watermark {watermark}; it would have \
                             joined that session (its own window: {missed})"
                        ),
                    };
                    self.dead_letter(Some(&event), None, &reason);
                }
            }
        }
    }
}

/// The header a late event carries on the late output: the windows it missed, as a JSON
/// array of `[start, end]` pairs.
pub const LATE_WINDOWS_HEADER: &str = "cameo-late-windows";

/// `windows` as a JSON array of `[start, end]` pairs.
fn windows_json(windows: &[(i64, i64)]) -> String {
    serde_json::to_string(windows).unwrap_or_default()
}
