//! Applying a finished call: its output downstream, its timers registered, its late events
//! passed on, and its failure handled (retries one by one, dead letters).

use super::call::{BatchKind, CallDone, CallInput};
use super::{Actor, Due};
use crate::dataflow::record::Record;
use crate::sched::executor::Activator;

impl Actor {
    /// Applies a finished call: outputs downstream, timers registered, failures handled.
    pub(super) fn finish(&mut self, done: CallDone, activator: &Activator) {
        self.links.metrics.add_call(&self.links.operator, done.fuel);
        // The profile is a cost per event: firings and timers (one call per pane or timer,
        // usually cheap) would drag it towards their own cost.
        if let CallInput::Batch { batch, .. } = &done.input
            && !batch.is_empty()
        {
            self.links.profile.record(done.fuel, batch.len());
        }
        self.instance = done.instance;
        if let Some(held) = done.orphaned {
            self.held = held;
        }
        if let Some(reason) = done.fatal {
            self.links.completion.fail(reason);
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
                if let Some(context) = context {
                    let records = output
                        .events
                        .into_iter()
                        .map(|event| Record::new(event, context))
                        .collect();
                    self.links.router.send(records, activator);
                }
                if !output.late.is_empty() {
                    self.send_late(&done.input, &output.late, activator);
                }
            }
            Err(failure) => {
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
                            self.links.dead_letters.record(
                                &self.links.operator,
                                Some(event),
                                None,
                                &reason,
                            );
                        }
                    }
                    CallInput::Fire { pane, .. } => {
                        let reason = format!(
                            "window [{}, {}) failed to fire: {reason}",
                            pane.start, pane.end
                        );
                        self.links.dead_letters.record(
                            &self.links.operator,
                            None,
                            Some(pane.end),
                            &reason,
                        );
                    }
                    CallInput::Timer { time, .. } => {
                        self.links.dead_letters.record(
                            &self.links.operator,
                            None,
                            Some(time),
                            &reason,
                        );
                    }
                }
            }
        }
    }

    /// Sends a batch's late events to the late output, or to the dead letters with the reason.
    fn send_late(&mut self, input: &CallInput, late: &[usize], activator: &Activator) {
        let CallInput::Batch {
            batch,
            kind: BatchKind::Window { watermark },
        } = input
        else {
            return;
        };
        let lateness = self.cx.window.map_or(0, |def| def.allowed_lateness);
        let picked = late.iter().filter_map(|&i| batch.record(i));
        match &mut self.links.late {
            Some(router) => router.send(picked.collect(), activator),
            None => {
                for Record { event, .. } in picked {
                    let fits_no_window = self
                        .cx
                        .window
                        .is_some_and(|def| def.assign(event.event_time).is_empty());
                    let reason = if fits_no_window {
                        format!(
                            "event time {} is past the last window the host can represent; \
                             give event times in milliseconds since the Unix epoch",
                            event.event_time
                        )
                    } else {
                        format!(
                            "late: event time {} is behind the watermark {watermark} by more \
                             than the allowed lateness of {lateness} ms for all its windows",
                            event.event_time
                        )
                    };
                    self.links.dead_letters.record(
                        &self.links.operator,
                        Some(&event),
                        None,
                        &reason,
                    );
                }
            }
        }
    }
}
