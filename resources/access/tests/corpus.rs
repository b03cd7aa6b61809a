//! Runs every evaluation case in `tests/corpus/*.json` and reports all failures at once.
//!
//! A case: `{"name", "rule", "policies": {"identity": [doc...], "boundary": doc|null, "resource": doc|null},
//! "request": {"principal", "action", "resource", "resource_account"?, "context"?, "context_complete"?},
//! "expect": "allowed" | "explicit_deny" | "implicit_deny" | "conditional"}`, plus optional
//! `"explain_contains"` (strings the explanation must contain) and `"conditional_on_contains"`.
//! A policy is a document, or `{"name": ..., "document": ...}` to give it the name explanations show.

use std::collections::BTreeSet;
use std::fs;
use std::path::Path;

use serde_json::Value as Json;
use strake_access::{Decision, Evaluation, Policies, Policy, Principal, Request, evaluate};

fn policy(value: &Json, default_name: &str) -> Result<Policy, String> {
    match value.get("document") {
        Some(document) => Policy::parse(value["name"].as_str().unwrap_or(default_name), document),
        None => Policy::parse(default_name, value),
    }
}

fn principal(value: &Json) -> Result<Principal, String> {
    if value == "anonymous" {
        return Ok(Principal::Anonymous);
    }
    let Some((kind, id)) = value.as_object().and_then(|o| o.iter().next()) else {
        return Err(format!("principal {value} is neither \"anonymous\" nor {{kind: id}}"));
    };
    let id = id.as_str().ok_or_else(|| format!("principal id {id} is not a string"))?.to_string();
    Ok(match kind.as_str() {
        "role" => Principal::Role { arn: id },
        "user" => Principal::User { arn: id },
        "account" => Principal::Account { id },
        "service" => Principal::Service { name: id },
        "web_identity" => Principal::WebIdentity { provider: id },
        other => return Err(format!("unknown principal kind `{other}`")),
    })
}

fn request(value: &Json) -> Result<Request, String> {
    let text = |key: &str| value[key].as_str().map(str::to_string).ok_or_else(|| format!("request has no string `{key}`"));
    let mut request = Request::new(principal(&value["principal"])?, text("action")?, text("resource")?);
    if let Some(account) = value["resource_account"].as_str() {
        request = request.resource_account(account);
    }
    for (key, values) in value["context"].as_object().into_iter().flatten() {
        let values = values.as_array().ok_or_else(|| format!("context `{key}` is not an array"))?;
        request = request.context(key, values.iter().map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_string)));
    }
    if value["context_complete"].as_bool() == Some(true) {
        request = request.complete();
    }
    Ok(request)
}

fn expected(value: &Json) -> Result<Decision, String> {
    match value.as_str() {
        Some("allowed") => Ok(Decision::Allowed),
        Some("explicit_deny") => Ok(Decision::ExplicitDeny),
        Some("implicit_deny") => Ok(Decision::ImplicitDeny),
        Some("conditional") => Ok(Decision::Conditional),
        _ => Err(format!("expect {value} is not allowed, explicit_deny, implicit_deny or conditional")),
    }
}

fn strings(value: &Json) -> Vec<String> {
    value.as_array().into_iter().flatten().filter_map(|v| v.as_str().map(str::to_string)).collect()
}

/// Runs one case: Ok, or what went wrong with the evaluation that shows why.
fn run(case: &Json) -> Result<(), String> {
    for key in ["name", "rule"] {
        if case[key].as_str().is_none_or(str::is_empty) {
            return Err(format!("the case has no `{key}`"));
        }
    }
    let p = &case["policies"];
    let identity = p["identity"].as_array().into_iter().flatten().enumerate().map(|(i, d)| policy(d, &format!("identity policy {i}")));
    let identity = identity.collect::<Result<Vec<_>, _>>()?;
    let boundary = p.get("boundary").filter(|b| !b.is_null()).map(|b| policy(b, "boundary")).transpose()?;
    let resource = p.get("resource").filter(|r| !r.is_null()).map(|r| policy(r, "resource policy")).transpose()?;
    let policies = Policies { identity: identity.iter().collect(), boundary: boundary.as_ref(), resource: resource.as_ref() };
    let request = request(&case["request"])?;
    let want = expected(&case["expect"])?;
    let evaluation = evaluate(&request, &policies);
    let mut problems = Vec::new();
    if evaluation.decision != want {
        problems.push(format!("expected {want:?}, got {:?}", evaluation.decision));
    }
    check_decision_fields(&evaluation, &mut problems);
    let explanation = evaluation.explanation.join("\n");
    for needle in strings(&case["explain_contains"]) {
        if !explanation.contains(&needle) {
            problems.push(format!("the explanation lacks {needle:?}"));
        }
    }
    for needle in strings(&case["conditional_on_contains"]) {
        if !evaluation.conditional_on.iter().any(|c| c.contains(&needle)) {
            problems.push(format!("conditional_on {:?} lacks {needle:?}", evaluation.conditional_on));
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(format!("{}\n    explanation:\n      {}", problems.join("; "), evaluation.explanation.join("\n      ")))
    }
}

/// The fields must agree with the decision.
fn check_decision_fields(evaluation: &Evaluation, problems: &mut Vec<String>) {
    let decision = evaluation.decision;
    if (decision == Decision::Conditional) == evaluation.conditional_on.is_empty() {
        problems.push(format!("conditional_on {:?} does not fit {decision:?}", evaluation.conditional_on));
    }
    if decision == Decision::ExplicitDeny && evaluation.denied_by.is_empty() {
        problems.push("an explicit deny names no Deny statement".to_string());
    }
    if decision == Decision::Allowed && !evaluation.denied_by.is_empty() {
        problems.push(format!("allowed, yet denied_by {:?}", evaluation.denied_by));
    }
    if evaluation.is_allowed() != evaluation.reason().is_none() {
        problems.push(format!("reason {:?} does not fit {decision:?}", evaluation.reason()));
    }
}

#[test]
fn corpus() {
    // Where the crate is when the test runs (a cached build may have been compiled elsewhere).
    let dir = Path::new(&std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").into())).join("tests/corpus");
    let mut files: Vec<_> = fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).filter(|p| p.extension().is_some_and(|e| e == "json")).collect();
    files.sort();
    let (mut total, mut failures, mut names) = (0, Vec::new(), BTreeSet::new());
    for file in &files {
        let short = file.file_name().unwrap().to_string_lossy().to_string();
        let cases: Json = serde_json::from_str(&fs::read_to_string(file).unwrap()).unwrap_or_else(|e| panic!("{short}: {e}"));
        let cases = cases.as_array().unwrap_or_else(|| panic!("{short}: not an array of cases"));
        for case in cases {
            total += 1;
            let name = case["name"].as_str().unwrap_or("(unnamed)").to_string();
            if !names.insert(name.clone()) {
                failures.push(format!("{short} / {name}: the name is used twice"));
            }
            if let Err(why) = run(case) {
                failures.push(format!("{short} / {name}: {why}"));
            }
        }
    }
    assert!(failures.is_empty(), "{} of {total} corpus cases failed:\n\n{}", failures.len(), failures.join("\n\n"));
    assert!(total >= 160, "the corpus has {total} cases, fewer than 160");
}
