//! Giving the worker back in the middle of host work: a call's host-side tail (committing a
//! million state writes, dropping them after a failure) is cut into pieces, and between two
//! pieces the call yields as it does between two fuel slices, so the scheduler can run more
//! urgent work first.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

/// State writes applied (or dropped) per piece: about a quarter of a millisecond.
pub(super) const WRITES_PER_PIECE: usize = 1024;

/// Pending once, then ready: the slice ends there and the call goes on at its next slice.
pub(super) struct YieldNow {
    yielded: bool,
}

impl Future for YieldNow {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.yielded {
            Poll::Ready(())
        } else {
            self.yielded = true;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    }
}

/// Ends the current slice; the call continues when the worker polls it again.
pub(super) fn yield_now() -> YieldNow {
    YieldNow { yielded: false }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::task::Waker;

    #[test]
    fn yields_once_then_is_ready() {
        let mut cx = Context::from_waker(Waker::noop());
        let mut future = std::pin::pin!(yield_now());
        assert_eq!(future.as_mut().poll(&mut cx), Poll::Pending);
        assert_eq!(future.as_mut().poll(&mut cx), Poll::Ready(()));
    }
}
