//! Event-time timers.
//!
//! A registered timer makes the host call [`Operator::on_timer`](crate::Operator::on_timer)
//! with the same key and time once the event-time watermark reaches `time`. Registering the
//! same key and time twice fires once. The host gives back only the key and the time, so encode
//! in them whatever the timer needs to find its work (for example a state key made of the
//! event key and the time).
//!
//! ```no_run
//! // Fire once the watermark reaches the end of the current minute.
//! let event_time: i64 = 1_700_000_012_345;
//! let minute_end = (event_time / 60_000 + 1) * 60_000;
//! cameo_sdk::timers::register(Some(b"sensor-1"), minute_end);
//! ```

use crate::bindings::cameo::operator::timers as raw;

/// Asks for `on_timer(key, time)` once the event-time watermark reaches `time` (milliseconds
/// since the Unix epoch).
pub fn register(key: Option<&[u8]>, time: i64) {
    raw::register(key, time)
}
