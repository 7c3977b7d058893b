//! A journey raced against the round's hard stop.
//!
//! `tokio::select!` would do, but it keeps its own state next to the two
//! futures (a poll closure, a disabled mask, output slots), and every
//! waiting user holds it; this is the two futures and nothing else.

use pin_project_lite::pin_project;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio_util::sync::WaitForCancellationFuture;

pin_project! {
    /// `fut`, or `None` once `cancel` fires; the stop is checked first, as
    /// a biased select would.
    pub struct OrCancel<'a, F> {
        #[pin]
        cancel: WaitForCancellationFuture<'a>,
        #[pin]
        fut: F,
    }
}

impl<'a, F> OrCancel<'a, F> {
    pub fn new(cancel: WaitForCancellationFuture<'a>, fut: F) -> Self {
        Self { cancel, fut }
    }
}

impl<F: Future> Future for OrCancel<'_, F> {
    type Output = Option<F::Output>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        if this.cancel.poll(cx).is_ready() {
            return Poll::Ready(None);
        }
        this.fut.poll(cx).map(Some)
    }
}

#[cfg(test)]
mod tests {
    use super::OrCancel;
    use tokio_util::sync::CancellationToken;

    #[tokio::test]
    async fn the_future_wins_until_the_stop_fires() {
        let stop = CancellationToken::new();
        assert_eq!(OrCancel::new(stop.cancelled(), async { 7 }).await, Some(7));
        // A stop that has fired wins even over a future that is ready.
        stop.cancel();
        assert_eq!(OrCancel::new(stop.cancelled(), async { 7 }).await, None);
    }

    #[tokio::test]
    async fn a_stop_ends_a_pending_future() {
        let stop = CancellationToken::new();
        let s = stop.clone();
        tokio::spawn(async move { s.cancel() });
        let never = std::future::pending::<()>();
        assert_eq!(OrCancel::new(stop.cancelled(), never).await, None);
    }
}
