//! The example program's command line as a new user meets it, with no cloud needed:
//! configuration mistakes in its own `Strake.toml` (a misspelt key, a value of the wrong type)
//! caught before anything is planned, `config`, which lists what the program reads, and its own
//! `verify` command, part of the same CLI.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use strake_tests::ran::Run;

fn example_binary() -> PathBuf {
    strake_tests::harness::example_binary("cross-account-irsa")
}

/// The example's configuration, edited by `edit`, in a fresh directory.
fn program_dir(edit: impl Fn(&str) -> String) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let example = strake_tests::workspace_root().join("examples/cross-account-irsa/Strake.toml");
    std::fs::write(dir.path().join("Strake.toml"), edit(&std::fs::read_to_string(example).unwrap())).unwrap();
    dir
}

fn run(dir: &Path, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(example_binary())
        .args(args)
        .arg("--dir")
        .arg(dir)
        .env("NO_COLOR", "1")
        .env_remove("CARGO_MANIFEST_DIR")
        .stdin(Stdio::null())
        .output()
        .expect("running the example");
    Run::from(out).into_parts()
}

#[test]
fn a_misspelt_key_stops_the_plan_and_names_the_right_one() {
    let dir = program_dir(|t| t.replace("namespace = \"irsa-demo\"", "namspace = \"payments\""));
    let (code, out, err) = run(dir.path(), &["plan"]);
    assert_eq!(code, 1, "{out}\n{err}");
    assert!(err.contains("unknown configuration key `app.namspace` (in ") && err.contains("did you mean `app.namespace`?"), "{err}");
    assert!(out.is_empty(), "nothing planned: {out}");

    let dir = program_dir(|t| t.to_string());
    let (code, _, err) = run(dir.path(), &["plan", "--config", "app.bukcet=x"]);
    assert_eq!(code, 1);
    assert!(err.contains("unknown configuration key `app.bukcet` (with --config); did you mean `app.bucket`?"), "{err}");
}

#[test]
fn a_value_of_the_wrong_type_is_named_with_what_was_expected() {
    let dir = program_dir(|t| t.replace("create_bucket = \"true\"", "create_bucket = \"no\""));
    let (code, out, err) = run(dir.path(), &["plan"]);
    assert_eq!(code, 1, "{out}\n{err}");
    assert!(err.contains("`app.create_bucket = \"no\"` (in ") && err.contains("expected true or false"), "{err}");
}

#[test]
fn config_lists_what_the_program_reads() {
    let dir = program_dir(|t| t.to_string());
    let (code, out, err) = run(dir.path(), &["config", "--config", "app.namespace=payments"]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("app.namespace") && out.contains("= \"payments\"  from --config  (text)"), "{out}");
    assert!(out.contains("app.create_bucket") && out.contains("from Strake.toml  (true or false)"), "{out}");
    assert!(out.contains("app.trust_service_account") && out.contains("not set"), "{out}");
}

#[test]
fn the_programs_own_command_is_part_of_the_cli() {
    let dir = program_dir(|t| t.to_string());
    let (code, out, _) = run(dir.path(), &["--help"]);
    assert_eq!(code, 0);
    assert!(out.contains("verify") && out.contains("Prove the access without a pod") && out.contains("plan"), "{out}");
    let (code, out, _) = run(dir.path(), &["verify", "--help"]);
    assert_eq!(code, 0);
    assert!(out.contains("Prove the access without a pod") && out.contains("--config"), "{out}");
    // Its configuration is checked like the rest of the program's.
    let (code, _, err) = run(dir.path(), &["verify", "--config", "app.create_bucket=no"]);
    assert_eq!(code, 1);
    assert!(err.contains("expected true or false"), "{err}");
}
