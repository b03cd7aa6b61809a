use super::*;
use crate::value;

fn urn() -> Urn {
    Urn::new("s", "strake:index:Data", "a")
}

fn diff(changes: &[&str], replaces: &[&str]) -> DiffResponse {
    DiffResponse {
        changes: changes.iter().map(|s| s.to_string()).collect(),
        replaces: replaces.iter().map(|s| s.to_string()).collect(),
        delete_before_replace: false,
    }
}

#[test]
fn decide_table() {
    let prior = value!({"input": 1});
    let plain = ResourceOptions::default();
    let dbr = ResourceOptions { delete_before_replace: true, ..Default::default() };
    let roc = ResourceOptions { replace_on_changes: vec!["input".into()], ..Default::default() };
    let u = urn();
    type Case<'a> = (&'a str, Option<&'a Value>, Option<DiffResponse>, &'a ResourceOptions, Action);
    let cases: Vec<Case> = vec![
        ("absent", None, None, &plain, Action::Create),
        ("no change", Some(&prior), Some(diff(&[], &[])), &plain, Action::NoOp),
        ("update", Some(&prior), Some(diff(&["input"], &[])), &plain, Action::Update),
        ("provider replace", Some(&prior), Some(diff(&["t"], &["t"])), &plain, Action::Replace(ReplaceOrder::CreateThenDelete)),
        ("dbr option", Some(&prior), Some(diff(&["t"], &["t"])), &dbr, Action::Replace(ReplaceOrder::DeleteThenCreate)),
        ("replace_on_changes", Some(&prior), Some(diff(&["input"], &[])), &roc, Action::Replace(ReplaceOrder::CreateThenDelete)),
    ];
    for (name, prior_inputs, diff, options, want) in cases {
        let got = decide(Decide { urn: &u, prior_inputs, diff: diff.as_ref(), options, gone: false }).unwrap();
        assert_eq!(got.0, want, "{name}");
    }
    let provider_dbr = DiffResponse { delete_before_replace: true, ..diff(&["t"], &["t"]) };
    let got = decide(Decide { urn: &u, prior_inputs: Some(&prior), diff: Some(&provider_dbr), options: &plain, gone: false });
    assert_eq!(got.unwrap().0, Action::Replace(ReplaceOrder::DeleteThenCreate));
}

#[test]
fn protect_refuses_replacement_with_a_fix() {
    let prior = value!({"input": 1});
    let opts = ResourceOptions { protect: true, ..Default::default() };
    let d = diff(&["triggers_replace"], &["triggers_replace"]);
    let err = decide(Decide { urn: &urn(), prior_inputs: Some(&prior), diff: Some(&d), options: &opts, gone: false }).unwrap_err();
    assert_eq!(err.field.as_deref(), Some("triggers_replace"));
    assert!(err.message.contains("remove `protect`"), "{}", err.message);
    // An in-place update of a protected resource is fine.
    let d = diff(&["input"], &[]);
    let ok = decide(Decide { urn: &urn(), prior_inputs: Some(&prior), diff: Some(&d), options: &opts, gone: false });
    assert_eq!(ok.unwrap().0, Action::Update);
}

#[test]
fn ignore_changes_keeps_recorded_values() {
    let opts = ResourceOptions { ignore_changes: vec!["tags.owner".into(), "gone".into()], ..Default::default() };
    let prior = value!({"tags": {"owner": "a", "env": "x"}});
    let mut planned = value!({"tags": {"owner": "b", "env": "y"}, "gone": 3});
    apply_ignore_changes(&opts, &prior, &mut planned);
    assert_eq!(planned, value!({"tags": {"owner": "a", "env": "y"}}));
}
