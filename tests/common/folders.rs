//! Report folders copied and edited the way the merge and compare tests
//! need them: a run copied as several shards, a summary changed by hand.

use serde_json::Value;
use std::path::Path;

/// `from` copied into `to`, sub-folders included, without the run's claim
/// on the folder (`.stampede.lock`: a copy belongs to no run).
pub fn copy_run(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let dest = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_run(&e.path(), &dest);
        } else if e.file_name() != ".stampede.lock" {
            std::fs::copy(e.path(), dest).unwrap();
        }
    }
}

/// `dir/summary.json` read, changed by `f`, and written back.
pub fn edit_summary(dir: &Path, f: impl FnOnce(&mut Value)) {
    let p = dir.join("summary.json");
    let mut v: Value = serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
    f(&mut v);
    std::fs::write(&p, serde_json::to_string(&v).unwrap()).unwrap();
}

/// `dir`'s summary.json marked as shard `index` of `count`.
pub fn as_shard(dir: &Path, index: u32, count: u32) {
    edit_summary(dir, |v| {
        v["origin"]["shard"] = serde_json::json!({"index": index, "count": count});
    });
}
