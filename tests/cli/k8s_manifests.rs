//! deploy/kubernetes/*.yaml match the Kubernetes API models (the official
//! Python client, installed by .ci/run), and a broken manifest is caught.

use std::process::Command;

fn check(args: &[&str]) -> std::process::Output {
    Command::new("python3")
        .arg("scripts/check-k8s-manifests.py")
        .args(args)
        .output()
        .expect("python3 runs (the kubernetes client is installed by .ci/run)")
}

#[test]
fn manifests_match_the_kubernetes_api() {
    let o = check(&[]);
    assert!(
        o.status.success(),
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(String::from_utf8_lossy(&o.stdout).contains("7 manifest file(s)"));
}

#[test]
fn a_broken_job_is_caught() {
    let dir = std::env::temp_dir().join(format!("stampede-k8s-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let job = std::fs::read_to_string("deploy/kubernetes/shards-job.yaml").unwrap();
    let bad = job.replace(
        "completionMode: Indexed\n  completions: 4\n  parallelism: 4",
        "completionMode: Indexed\n  completions: 4\n  parallelism: 2\n  completionMod: x",
    );
    assert_ne!(bad, job);
    let path = dir.join("job.yaml");
    std::fs::write(&path, bad).unwrap();
    let o = check(&[path.to_str().unwrap()]);
    let _ = std::fs::remove_dir_all(&dir);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success());
    assert!(
        err.contains("completionMod: not a field of V1JobSpec"),
        "{err}"
    );
    assert!(err.contains("parallelism must equal completions"), "{err}");
}
