//! Stop signals: SIGINT (Ctrl-C), SIGTERM (`timeout`, a CI job cancel,
//! `docker stop`, `kubectl delete`) and SIGHUP (the terminal went away) all
//! mean the same thing. The first one stops arrivals and lets in-flight
//! work drain within the scenario's bound; the second, of any kind, cancels
//! in-flight work. Either way the run goes on to print and write every
//! report, and exits 3.

use crate::engine::Control;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};

/// The signals that stop a run, by name (for messages).
#[cfg(unix)]
const STOP_SIGNALS: [(&str, tokio::signal::unix::SignalKind); 3] = [
    ("SIGINT", tokio::signal::unix::SignalKind::interrupt()),
    ("SIGTERM", tokio::signal::unix::SignalKind::terminate()),
    ("SIGHUP", tokio::signal::unix::SignalKind::hangup()),
];

/// How long the reports may take once a signal arrives while they are being
/// written; then the process exits 3 with what is written (summary.json is
/// written first, and `stampede report DIR` renders the rest from it).
pub const WRITE_GRACE: std::time::Duration = std::time::Duration::from_secs(10);

/// Set while the report files are being written (see [`writing_reports`]).
static WRITING: AtomicBool = AtomicBool::new(false);

/// Every stop signal received, counted; what `--metrics-linger` ends on.
static RECEIVED: OnceLock<tokio::sync::watch::Sender<u32>> = OnceLock::new();

fn received() -> &'static tokio::sync::watch::Sender<u32> {
    RECEIVED.get_or_init(|| tokio::sync::watch::Sender::new(0))
}

/// Marks the report files as being written until the guard is dropped: a
/// signal meanwhile gives them [`WRITE_GRACE`] to finish.
pub fn writing_reports() -> WritingReports {
    WRITING.store(true, Ordering::SeqCst);
    WritingReports(())
}

pub struct WritingReports(());

impl Drop for WritingReports {
    fn drop(&mut self) {
        WRITING.store(false, Ordering::SeqCst);
    }
}

/// Sleeps for `d`, or until the next stop signal (a signal received before
/// this is called does not count).
pub async fn sleep_unless_signalled(d: std::time::Duration) {
    let mut rx = received().subscribe();
    tokio::select! {
        _ = tokio::time::sleep(d) => {}
        _ = rx.changed() => {}
    }
}

/// Listens for stop signals from now on (the handlers are installed before
/// this returns, so a signal sent right after is not lost to the default
/// action) and drives `control`: first signal `stop`, second `kill`. A
/// signal while the reports are being written starts [`WRITE_GRACE`].
pub fn install(control: Control) {
    let mut signals = match Signals::new() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("warning: cannot listen for stop signals ({e}); Ctrl-C will end the process");
            return;
        }
    };
    tokio::spawn(async move {
        let mut run_signals = 0;
        let mut grace_started = false;
        while let Some(name) = signals.next().await {
            received().send_modify(|n| *n += 1);
            if WRITING.load(Ordering::SeqCst) {
                SIGNALLED_WHILE_WRITING.store(true, Ordering::SeqCst);
                // No further round of `--repeat` starts.
                control.stop.cancel();
                if !grace_started {
                    grace_started = true;
                    eprintln!(
                        "\n{name}: the reports are being written; the process ends in {} s if they are not done",
                        WRITE_GRACE.as_secs()
                    );
                    tokio::spawn(grace(name));
                }
                continue;
            }
            run_signals += 1;
            match run_signals {
                1 => {
                    eprintln!(
                        "\n{name}: stopping: no new arrivals, draining in-flight work (a second Ctrl-C, SIGTERM or SIGHUP cancels it)"
                    );
                    control.stop.cancel();
                }
                2 => {
                    eprintln!("\n{name}: cancelling in-flight work; reports follow");
                    control.kill.cancel();
                }
                _ => eprintln!("{name}: already cancelling, reports follow"),
            }
        }
    });
}

/// After [`WRITE_GRACE`], exit 3 if the reports are still being written.
/// On virtual time the paused clock does not move while they are written,
/// so the grace is counted on the wall clock, by a thread of its own.
async fn grace(name: &'static str) {
    if crate::clock::mode().is_virtual() {
        std::thread::spawn(move || {
            std::thread::sleep(WRITE_GRACE);
            grace_over(name);
        });
        return;
    }
    tokio::time::sleep(WRITE_GRACE).await;
    grace_over(name);
}

fn grace_over(name: &'static str) {
    if WRITING.load(Ordering::SeqCst) {
        crate::report::write::abandon();
        eprintln!(
            "error: the reports were not finished {} s after {name}; exiting with what is written (summary.json first; `stampede report DIR` renders the rest)",
            WRITE_GRACE.as_secs()
        );
        std::process::exit(i32::from(crate::app::EXIT_ABORTED));
    }
}

/// Whether a stop signal arrived while the reports were being written: the
/// run then exits 3 even when they were finished within [`WRITE_GRACE`].
pub fn signalled_while_writing() -> bool {
    SIGNALLED_WHILE_WRITING.load(Ordering::SeqCst)
}

static SIGNALLED_WHILE_WRITING: AtomicBool = AtomicBool::new(false);

/// Runs `work` (a command that only reads and writes files: `report`,
/// `merge`, `compare`) off the runtime's threads, listening for stop signals
/// meanwhile: nothing measured is at stake, so a signal ends the process at
/// once with exit 3, every temporary file removed
/// ([`crate::report::write::abandon`]): each report file is the previous
/// one or the complete new one.
pub async fn exit_on_signal<F>(what: &'static str, work: F) -> u8
where
    F: FnOnce() -> u8 + Send + 'static,
{
    // Listening before the work starts: a signal sent at once is not lost
    // to the default action.
    let mut signals = Signals::new().ok();
    let mut work = tokio::task::spawn_blocking(work);
    let signal = async {
        match signals.as_mut() {
            Some(s) => s.next().await,
            None => std::future::pending().await,
        }
    };
    tokio::select! {
        done = &mut work => done.unwrap_or_else(|e| {
            eprintln!("error: {what} failed: {e}");
            crate::app::EXIT_RUNTIME
        }),
        Some(name) = signal => {
            crate::report::write::abandon();
            eprintln!(
                "\n{name}: {what} stopped; every file in place is complete, none is half-written"
            );
            std::process::exit(i32::from(crate::app::EXIT_ABORTED));
        }
    }
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
