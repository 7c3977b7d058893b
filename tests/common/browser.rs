//! Headless chromium for the report tests: load an HTML file from disk and
//! return the DOM the browser built.
//!
//! chromium is required: CI installs it with `apt-get install -y chromium`.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

const BROWSER_TIMEOUT: Duration = Duration::from_secs(120);

pub fn chromium() -> PathBuf {
    for candidate in ["/usr/bin/chromium", "/usr/bin/chromium-browser"] {
        if Path::new(candidate).is_file() {
            return PathBuf::from(candidate);
        }
    }
    panic!(
        "chromium is not installed, so report.html cannot be checked in a browser. \
         Install it with `apt-get install -y chromium` (CI does this in .ci/run)."
    );
}

pub fn temp_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("stampede-browser-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Runs headless chromium on `html` and returns (dumped DOM, stderr).
pub fn dump_dom(html: &Path, profile: &Path) -> (String, String) {
    let mut child = Command::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--enable-logging=stderr",
            "--v=0",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg("--dump-dom")
        .arg(format!("file://{}", html.display()))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("chromium starts");
    // Read both pipes on threads so a chatty stderr cannot block the browser.
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let out_t = std::thread::spawn(move || {
        let mut s = String::new();
        out.read_to_string(&mut s).map(|_| s)
    });
    let err_t = std::thread::spawn(move || {
        let mut s = String::new();
        err.read_to_string(&mut s).map(|_| s)
    });
    let Some(status) = super::wait_exit(&mut child, BROWSER_TIMEOUT) else {
        let _ = child.kill();
        let _ = child.wait();
        panic!("chromium did not finish within {BROWSER_TIMEOUT:?}");
    };
    let dom = out_t.join().unwrap().unwrap();
    let stderr = err_t.join().unwrap().unwrap();
    assert!(status.success(), "chromium failed ({status}):\n{stderr}");
    (dom, stderr)
}

pub fn count(hay: &str, needle: &str) -> usize {
    hay.matches(needle).count()
}

/// The `<svg ...>...</svg>` elements of a serialized DOM.
pub fn svgs(dom: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = dom;
    while let Some(start) = rest.find("<svg") {
        let end = rest[start..].find("</svg>").expect("closed svg") + start + 6;
        out.push(&rest[start..end]);
        rest = &rest[end..];
    }
    out
}

/// Console lines the page logged (errors, CSP violations, uncaught
/// exceptions) in chromium's stderr.
pub fn page_logs(stderr: &str) -> Vec<&str> {
    stderr
        .lines()
        .filter(|l| l.contains("CONSOLE") || l.contains("Uncaught"))
        .collect()
}
