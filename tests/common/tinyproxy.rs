//! A real HTTP proxy for tests: Debian's `tinyproxy`, started on a free
//! loopback port with a generated configuration and its own log file, and
//! stopped (by its own process handle) on drop. CI installs it (`.ci/run`);
//! without it the tests fail with a message saying so.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Tinyproxy {
    pub port: u16,
    log: PathBuf,
    child: Child,
}

pub use super::wait::free_port;

fn binary() -> PathBuf {
    for p in ["/usr/bin/tinyproxy", "/usr/sbin/tinyproxy"] {
        if Path::new(p).exists() {
            return PathBuf::from(p);
        }
    }
    let found = Command::new("sh")
        .args(["-c", "command -v tinyproxy"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string());
    match found {
        Some(p) if !p.is_empty() => PathBuf::from(p),
        _ => panic!(
            "tinyproxy is not installed: these tests drive a real HTTP proxy (apt-get install tinyproxy; .ci/run installs it)"
        ),
    }
}

impl Tinyproxy {
    /// A proxy in `dir` that tunnels (CONNECT) only to `connect_ports`,
    /// and asks for `basic_auth` (user, password) when given.
    pub fn start(dir: &Path, connect_ports: &[u16], basic_auth: Option<(&str, &str)>) -> Self {
        let bin = binary();
        let port = free_port();
        let log = dir.join("tinyproxy.log");
        let mut conf = format!(
            "Port {port}\nListen 127.0.0.1\nTimeout 30\nLogFile \"{}\"\nLogLevel Connect\nMaxClients 200\nAllow 127.0.0.1\nDisableViaHeader Yes\n",
            log.display()
        );
        for p in connect_ports {
            conf.push_str(&format!("ConnectPort {p}\n"));
        }
        if connect_ports.is_empty() {
            // No ConnectPort line would allow every port: allow none that matters.
            conf.push_str("ConnectPort 1\n");
        }
        if let Some((u, p)) = basic_auth {
            conf.push_str(&format!("BasicAuth {u} {p}\n"));
        }
        let conf_path = dir.join("tinyproxy.conf");
        std::fs::write(&conf_path, conf).expect("write tinyproxy.conf");
        let child = Command::new(bin)
            .arg("-d")
            .arg("-c")
            .arg(&conf_path)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start tinyproxy");
        let mut me = Self { port, log, child };
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Ok(Some(status)) = me.child.try_wait() {
                panic!(
                    "tinyproxy exited at start ({status}); log: {}",
                    me.log_text()
                );
            }
            assert!(
                Instant::now() < deadline,
                "tinyproxy did not listen on {port} within 10 s; log: {}",
                me.log_text()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        // The probe connection above shows in the log as a connect without a request.
        me
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The request lines the proxy logged (`GET http://... HTTP/1.1`,
    /// `CONNECT host:port HTTP/1.1`), in order.
    pub fn requests(&self) -> Vec<String> {
        self.log_text()
            .lines()
            .filter_map(|l| l.split_once("]: Request (file descriptor "))
            .filter_map(|(_, rest)| rest.split_once("): ").map(|(_, r)| r.to_string()))
            .collect()
    }
}

impl Drop for Tinyproxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
