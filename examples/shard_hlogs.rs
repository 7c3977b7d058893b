//! Synthetic shard folders for timing `stampede merge`: N shards of an
//! M-second run, 2 fleets x 4 steps, per-second `op` and `attempt`
//! histograms of S samples each (a realistic latency spread).
//!
//!   cargo run --example shard_hlogs -- OUT [SHARDS=16] [SECONDS=600] [SAMPLES=500]
//!   /usr/bin/time -v stampede merge OUT/shard-* --out OUT/merged

use stampede::metrics::SecondHistograms;
use stampede::metrics::hlog;
use stampede::metrics::interval::write_pairs;
use stampede::report::{Shard, StepResult};
use std::path::PathBuf;
use std::time::{Duration, SystemTime};

fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let out = PathBuf::from(
        args.first()
            .map_or("reports/synthetic-shards", |s| s.as_str()),
    );
    let num = |i: usize, d: u64| args.get(i).and_then(|s| s.parse().ok()).unwrap_or(d);
    let (shards, seconds, samples) = (num(1, 16), num(2, 600), num(3, 500));
    let base = SystemTime::UNIX_EPOCH + Duration::from_secs(1_767_225_600);
    let steps = ["availability", "reserve", "confirm", "pay"];
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    for i in 0..shards {
        let dir = out.join(format!("shard-{i}"));
        std::fs::create_dir_all(&dir)?;
        let mut r = stampede::sample::sample_report();
        r.results.truncate(2);
        r.origin.shard = Some(Shard::new(i as u32, shards as u32).expect("shard"));
        r.origin.gates.clear();
        for c in &mut r.results {
            let template = c.steps[0].clone();
            c.steps = steps
                .iter()
                .map(|s| StepResult {
                    name: s.to_string(),
                    ..template.clone()
                })
                .collect();
            let mut fleet = Vec::new();
            hlog::write_header(&mut fleet, &c.name, base)?;
            std::fs::write(dir.join(hlog::file_name(&c.name, None)), fleet)?;
            for s in &steps {
                let (mut op, mut at) = (SecondHistograms::default(), SecondHistograms::default());
                for sec in 0..seconds as u32 {
                    for _ in 0..samples {
                        let v = next();
                        let us = match v % 100 {
                            0..=89 => 300 + v % 20_000,
                            90..=98 => 20_000 + v % 500_000,
                            _ => 500_000 + v % 20_000_000,
                        };
                        op.record(sec, us);
                        at.record(sec, us / 2 + 1);
                    }
                }
                let mut f = Vec::new();
                hlog::write_header(&mut f, &format!("{}.{s}", c.name), base)?;
                write_pairs(&mut f, &op, &at)?;
                std::fs::write(dir.join(hlog::file_name(&c.name, Some(s))), f)?;
            }
        }
        stampede::report::json::write_summary(&r, &dir).map_err(std::io::Error::other)?;
        eprintln!("wrote {}", dir.display());
    }
    Ok(())
}
