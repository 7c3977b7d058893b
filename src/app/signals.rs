//! Stop signals: SIGINT (Ctrl-C), SIGTERM (`timeout`, a CI job cancel,
//! `docker stop`, `kubectl delete`) and SIGHUP (the terminal went away) all
//! mean the same thing. The first one stops arrivals and lets in-flight
//! work drain within the scenario's bound; the second, of any kind, cancels
//! in-flight work. Either way the run goes on to print and write every
//! report, and exits 3.

use crate::engine::Control;

/// The signals that stop a run, by name (for messages).
#[cfg(unix)]
const STOP_SIGNALS: [(&str, tokio::signal::unix::SignalKind); 3] = [
    ("SIGINT", tokio::signal::unix::SignalKind::interrupt()),
    ("SIGTERM", tokio::signal::unix::SignalKind::terminate()),
    ("SIGHUP", tokio::signal::unix::SignalKind::hangup()),
];

/// Listens for stop signals from now on (the handlers are installed before
/// this returns, so a signal sent right after is not lost to the default
/// action) and drives `control`: first signal `stop`, second `kill`.
pub fn install(control: Control) {
    let mut signals = match Signals::new() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("warning: cannot listen for stop signals ({e}); Ctrl-C will end the process");
            return;
        }
    };
    tokio::spawn(async move {
        let Some(name) = signals.next().await else {
            return;
        };
        eprintln!(
            "\n{name}: stopping: no new arrivals, draining in-flight work (a second Ctrl-C, SIGTERM or SIGHUP cancels it)"
        );
        control.stop.cancel();
        let Some(name) = signals.next().await else {
            return;
        };
        eprintln!("\n{name}: cancelling in-flight work; reports follow");
        control.kill.cancel();
        // Later signals are absorbed: the reports are being written.
        while let Some(name) = signals.next().await {
            eprintln!("{name}: already cancelling, reports are being written");
        }
    });
}

/// Waits for the first stop signal (what `stampede serve` runs until).
pub async fn first() {
    match Signals::new() {
        Ok(mut s) => {
            let _ = s.next().await;
        }
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

/// The three stop signals as one stream.
struct Signals {
    #[cfg(unix)]
    streams: Vec<(&'static str, tokio::signal::unix::Signal)>,
}

impl Signals {
    #[cfg(unix)]
    fn new() -> std::io::Result<Self> {
        let streams = STOP_SIGNALS
            .iter()
            .map(|(name, kind)| Ok((*name, tokio::signal::unix::signal(*kind)?)))
            .collect::<std::io::Result<_>>()?;
        Ok(Self { streams })
    }

    #[cfg(not(unix))]
    fn new() -> std::io::Result<Self> {
        Ok(Self {})
    }

    /// The name of the next signal received; `None` once no signal can
    /// arrive any more.
    #[cfg(unix)]
    async fn next(&mut self) -> Option<&'static str> {
        std::future::poll_fn(|cx| {
            let mut open = false;
            for (name, stream) in &mut self.streams {
                match stream.poll_recv(cx) {
                    std::task::Poll::Ready(Some(())) => return std::task::Poll::Ready(Some(*name)),
                    std::task::Poll::Ready(None) => {}
                    std::task::Poll::Pending => open = true,
                }
            }
            if open {
                std::task::Poll::Pending
            } else {
                std::task::Poll::Ready(None)
            }
        })
        .await
    }

    #[cfg(not(unix))]
    async fn next(&mut self) -> Option<&'static str> {
        tokio::signal::ctrl_c().await.ok().map(|()| "Ctrl-C")
    }
}
