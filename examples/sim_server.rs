//! Standalone simulator for benchmarks and manual poking, until the CLI's
//! `stampede serve` exists.
//!
//! `cargo run --release --example sim_server -- --port 8080 [--threads 1] [--config sim.toml]`

use stampede::sim::{SimConfig, SimServer};
use std::net::SocketAddr;

fn usage() -> ! {
    eprintln!("usage: sim_server [--port N] [--threads N] [--config FILE]");
    std::process::exit(2)
}

fn main() {
    let mut port = 8080u16;
    let mut threads = 0usize;
    let mut config = None;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let v = args.next().unwrap_or_else(|| usage());
        match a.as_str() {
            "--port" => port = v.parse().unwrap_or_else(|_| usage()),
            "--threads" => threads = v.parse().unwrap_or_else(|_| usage()),
            "--config" => config = Some(v),
            _ => usage(),
        }
    }
    let cfg = match config {
        Some(path) => SimConfig::from_toml_file(&path).unwrap_or_else(|e| {
            eprintln!("{e}");
            std::process::exit(2)
        }),
        None => SimConfig::default(),
    };
    let mut rt = tokio::runtime::Builder::new_multi_thread();
    if threads > 0 {
        rt.worker_threads(threads);
    }
    let rt = rt.enable_all().build().unwrap_or_else(|e| {
        eprintln!("runtime: {e}");
        std::process::exit(1)
    });
    rt.block_on(async move {
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let server = match SimServer::start(cfg, addr).await {
            Ok(s) => s,
            Err(e) => {
                eprintln!("{e}");
                std::process::exit(1)
            }
        };
        println!("simulator listening on http://{}", server.addr());
        let _ = tokio::signal::ctrl_c().await;
        server.shutdown().await;
    });
}
