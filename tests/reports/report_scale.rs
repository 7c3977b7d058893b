//! Rendering is linear in the simulator's zones: a report whose ledger has
//! 100,000 zones per fleet is written in every format (summary.json, the
//! CSVs, report.html, junit.xml), read back and rendered again, and printed
//! on the console, well inside a deadline a quadratic path would miss by
//! minutes (10,000 zones took 11 s and 100,000 over 12 minutes when the
//! HTML ledger table searched each fleet's rows for every key).

use crate::common::TempDir;
use stampede::report::{self, Report};
use std::time::{Duration, Instant};

/// The sample report with `zones` zones in every fleet's ledger, spread
/// over 100 events.
pub fn report_with_zones(zones: u32) -> Report {
    let mut r = stampede::sample::sample_report();
    for fleet in &mut r.results {
        let Some(ledger) = fleet.ledger.as_mut() else {
            continue;
        };
        for z in 0..zones {
            ledger.zones.insert(
                format!("E{}/Z{z}", z % 100),
                stampede::sim::ZoneSeats {
                    capacity: 10,
                    sold: z % 11,
                    reserved: 0,
                    available: 10 - (z % 11).min(10),
                },
            );
        }
    }
    r
}

/// Every file written, read back and rendered again, and the console
/// table: what a run and `stampede report DIR` do with the model.
fn render_everything(r: &Report, dir: &std::path::Path) -> Duration {
    let t0 = Instant::now();
    let written = report::write_all(r, dir).expect("every file written");
    assert!(written.len() > 5, "{written:?}");
    let back = report::rerender(dir).expect("rendered again from summary.json");
    assert_eq!(back.results.len(), r.results.len());
    let table = report::console::summary_table(&back);
    assert!(!table.is_empty());
    t0.elapsed()
}

#[test]
fn report_with_100k_zones_renders_in_linear_time() {
    let dir = TempDir::new("scale");
    let small = report_with_zones(10_000);
    let t_small = render_everything(&small, &dir.path().join("10k"));
    let large = report_with_zones(100_000);
    let t_large = render_everything(&large, &dir.path().join("100k"));
    eprintln!(
        "rendering: 10k zones {:.2} s ({:.2} s per 10k), 100k zones {:.2} s ({:.2} s per 10k)",
        t_small.as_secs_f64(),
        t_small.as_secs_f64(),
        t_large.as_secs_f64(),
        t_large.as_secs_f64() / 10.0
    );
    // Every zone of every fleet made it into the HTML table and the JSON.
    let html = std::fs::read_to_string(dir.path().join("100k").join(report::HTML_FILE)).unwrap();
    // (`/` is escaped in HTML text.)
    assert!(
        html.contains("zones.E99&#x2f;Z99999.sold"),
        "the last zone is shown"
    );
    let json = std::fs::read_to_string(dir.path().join("100k").join("summary.json")).unwrap();
    assert!(json.contains("\"E99/Z99999\""));
    // Ten times the zones: about ten times the time when linear, a hundred
    // times when quadratic (which took over 12 minutes for 100,000 zones).
    // The bounds are generous for a debug build on a busy machine.
    assert!(
        t_large < Duration::from_secs(120),
        "100,000 zones took {t_large:?} (10,000: {t_small:?})"
    );
    assert!(
        t_large.as_secs_f64() < 30.0 * t_small.as_secs_f64(),
        "10x the zones took {:.1}x the time: not linear ({t_small:?}, {t_large:?})",
        t_large.as_secs_f64() / t_small.as_secs_f64()
    );
}
