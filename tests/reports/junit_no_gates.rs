//! A run with no gates still gives CI one test case: `junit.xml` holds a
//! passing `run completed` case (Jenkins' junit step fails a file with no
//! test at all), and nothing else.

use crate::common;
use common::TempDir;

#[test]
fn a_run_without_gates_writes_one_passing_case() {
    let dir = TempDir::new("junit-no-gates");
    let file = dir.path().join("s.toml");
    common::scenario()
        .name("no-gates")
        .compare(&["compliant"])
        .ticket_drop(20, "500ms")
        .drain("20s")
        .write(&file);
    let out = dir.path().join("out");
    let o = common::stampede()
        .arg("run")
        .arg(&file)
        .args(["--virtual-time", "--quiet", "--out"])
        .arg(&out)
        .run();
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert_eq!(common::read_summary(&out)["gates"], serde_json::json!([]));
    let xml = std::fs::read_to_string(out.join("junit.xml")).expect("junit.xml");
    assert!(
        xml.contains("<testsuites name=\"stampede\" tests=\"1\" failures=\"0\""),
        "{xml}"
    );
    assert!(
        xml.contains("tests=\"1\" failures=\"0\" errors=\"0\" skipped=\"0\""),
        "{xml}"
    );
    assert_eq!(xml.matches("<testcase ").count(), 1, "{xml}");
    assert!(
        xml.contains(
            "<testcase classname=\"stampede.no-gates\" name=\"run completed\" time=\"0\"/>"
        ),
        "{xml}"
    );
    assert!(!xml.contains("<failure"), "{xml}");
}
