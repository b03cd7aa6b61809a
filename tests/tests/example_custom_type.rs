//! The custom-type example: a resource type the program defines itself (a local file), run as a
//! user runs it, through create, a re-plan, drift put back, an update and destroy.

use std::path::Path;
use std::process::{Command, Stdio};

use strake_tests::ran::Run;

fn run(dir: &Path, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(strake_tests::harness::example_binary("custom-type"))
        .args(args)
        .arg("--dir")
        .arg(dir)
        .arg("--config")
        .arg(format!("dir={}", dir.join("out").display()))
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .output()
        .expect("running the example");
    Run::from(out).into_parts()
}

fn ok(dir: &Path, args: &[&str]) -> String {
    let (code, stdout, stderr) = run(dir, args);
    assert_eq!(code, 0, "{args:?}: {stdout}\n{stderr}");
    stdout
}

#[test]
fn a_type_the_program_defines_is_planned_applied_repaired_and_destroyed() {
    let dir = tempfile::tempdir().unwrap();
    let (greeting, checksum) = (dir.path().join("out/greeting.txt"), dir.path().join("out/greeting.sha256"));

    let (code, plan, _) = run(dir.path(), &["plan"]);
    assert_eq!(code, 2, "{plan}");
    assert!(plan.contains("Plan: 2 to create") && plan.contains("local (local): configured; it names no account or cluster"), "{plan}");
    ok(dir.path(), &["apply", "--yes"]);
    assert_eq!(std::fs::read_to_string(&greeting).unwrap(), "hello, world\n");
    let sha = std::fs::read_to_string(&checksum).unwrap();
    assert!(sha.ends_with("  greeting.txt\n") && sha.len() == 64 + 15, "the checksum file is made from the greeting's output: {sha:?}");
    assert!(ok(dir.path(), &["plan"]).contains("No changes."));

    // Edited by hand: drift, put back by the next apply.
    std::fs::write(&greeting, "edited\n").unwrap();
    let (code, plan, _) = run(dir.path(), &["plan"]);
    assert_eq!(code, 2, "{plan}");
    assert!(plan.contains("~ content = \"edited\\n\" -> \"hello, world\\n\""), "{plan}");
    ok(dir.path(), &["apply", "--yes"]);
    assert_eq!(std::fs::read_to_string(&greeting).unwrap(), "hello, world\n");

    // New content is written in place, and the file made from it follows.
    let (code, stdout, stderr) = run(dir.path(), &["apply", "--yes", "--config", "greeting=hi"]);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert!(stdout.contains("2 updated"), "{stdout}");
    assert_eq!(std::fs::read_to_string(&greeting).unwrap(), "hi, world\n");
    assert_ne!(std::fs::read_to_string(&checksum).unwrap(), sha);

    ok(dir.path(), &["destroy", "--yes"]);
    assert!(!greeting.exists() && !checksum.exists());
}
