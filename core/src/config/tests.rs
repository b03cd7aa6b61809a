use serde::Deserialize;

use super::*;

#[test]
fn file_then_overrides() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("Strake.toml"), "region = \"eu-west-1\"\n[account_b]\nrole_arn = \"arn:x\"\ncount = 3\n").unwrap();
    let c = Config::load(dir.path(), &["region=us-east-1".into()]).unwrap();
    assert_eq!(c.get("region"), Some("us-east-1"));
    assert_eq!(c.get("account_b.role_arn"), Some("arn:x"));
    assert_eq!(c.get("account_b.count"), Some("3"));
    let err = c.require("cluster").unwrap_err().to_string();
    assert!(err.contains("--config cluster=") && err.contains("Strake.toml"), "{err}");
    assert!(Config::load(dir.path(), &["novalue".into()]).is_err());
}

#[derive(Debug, Deserialize, PartialEq)]
#[serde(rename_all = "snake_case")]
enum Mode {
    Fast,
    Safe,
}

#[derive(Debug, Deserialize, PartialEq)]
struct App {
    namespace: String,
    #[serde(default = "yes")]
    create_bucket: bool,
    replicas: u8,
    mode: Mode,
    #[serde(default)]
    tags: Vec<String>,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Deserialize, PartialEq)]
struct Settings {
    region: String,
    #[serde(default)]
    profile: Option<String>,
    app: App,
}

fn config(file: &str, flags: &[&str]) -> Config {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("Strake.toml"), file).unwrap();
    Config::load(dir.path(), &flags.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap()
}

const GOOD: &str = "region = \"eu-west-1\"\n[app]\nnamespace = \"payments\"\nreplicas = 2\nmode = \"fast\"\ntags = [\"a\", \"b\"]\n";

#[test]
fn a_struct_reads_typed_values_from_the_file_and_flags() {
    let c = config(GOOD, &["app.create_bucket=false", "app.replicas=3"]);
    let s: Settings = c.parse().unwrap();
    assert_eq!(
        s,
        Settings {
            region: "eu-west-1".into(),
            profile: None,
            app: App { namespace: "payments".into(), create_bucket: false, replicas: 3, mode: Mode::Fast, tags: vec!["a".into(), "b".into()] },
        }
    );
    assert_eq!(config(GOOD, &["app.tags=x, y"]).parse::<Settings>().unwrap().app.tags, vec!["x", "y"]);
    c.check_all_read().unwrap();
    let reads = c.reads();
    let expects = |key: &str| reads.iter().find(|r| r.key == key).map(|r| r.expects.clone());
    assert_eq!(expects("app.replicas").as_deref(), Some("an integer"));
    assert_eq!(expects("app.mode").as_deref(), Some("one of \"fast\", \"safe\""));
    assert_eq!(expects("profile").as_deref(), Some("any"), "declared, not set");
}

fn error(file: &str, flags: &[&str]) -> String {
    config(file, flags).parse::<Settings>().unwrap_err().to_string()
}

#[test]
fn a_map_reads_every_key_set_under_its_table() {
    #[derive(Debug, Deserialize)]
    struct Tagged {
        tags: std::collections::BTreeMap<String, u8>,
    }
    let c = config("[tags]\nteam = 1\ncost = 2\n", &["tags.owner=3"]);
    let t: Tagged = c.parse().unwrap();
    assert_eq!(t.tags.into_iter().collect::<Vec<_>>(), [("cost".to_string(), 2), ("owner".to_string(), 3), ("team".to_string(), 1)]);
    c.check_all_read().unwrap();
}

#[test]
fn a_misspelt_key_is_named_with_the_closest_one() {
    let e = error(&GOOD.replace("namespace", "namspace"), &[]);
    assert!(e.contains("unknown configuration key `app.namspace` (in ") && e.contains("did you mean `app.namespace`?"), "{e}");
    let e = error(GOOD, &["regoin=us-east-1"]);
    assert!(e.contains("unknown configuration key `regoin` (with --config); did you mean `region`?"), "{e}");
}

#[test]
fn a_value_of_the_wrong_type_names_key_value_origin_and_expectation() {
    let e = error(GOOD, &["app.create_bucket=no"]);
    assert!(e.contains("`app.create_bucket = \"no\"` (with --config): expected true or false"), "{e}");
    let e = error(&GOOD.replace("replicas = 2", "replicas = \"two\""), &[]);
    assert!(e.contains("`app.replicas = \"two\"` (in ") && e.contains("expected an integer"), "{e}");
    let e = error(GOOD, &["app.replicas=300"]);
    assert!(e.contains("expected an integer from 0 to 255"), "{e}");
    let e = error(GOOD, &["app.mode=fsat"]);
    assert!(e.contains("expected one of \"fast\", \"safe\" (did you mean \"fast\"?)"), "{e}");
    let e = error(&GOOD.replace("tags = [\"a\", \"b\"]", "tags = 3"), &[]);
    assert!(e.contains("`app.tags = 3`") && e.contains("expected a list"), "{e}");
}

#[test]
fn a_missing_key_says_how_to_set_it() {
    let e = error(&GOOD.replace("namespace = \"payments\"\n", ""), &[]);
    assert!(e.contains("missing configuration `app.namespace`") && e.contains("--config app.namespace="), "{e}");
}

#[test]
fn keys_nobody_read_are_reported_after_the_program() {
    let c = config("region = \"x\"\nzone = \"y\"\n", &["regino=z"]);
    assert_eq!(c.get("region"), Some("x"));
    let e = c.check_all_read().unwrap_err().to_string();
    assert!(e.contains("`regino` (with --config); did you mean `region`?") && e.contains("`zone` (in "), "{e}");
    assert!(e.ends_with("it reads region"), "{e}");
}
