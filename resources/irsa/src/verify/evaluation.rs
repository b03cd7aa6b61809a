//! Showing a strake-access evaluation the way `verify` reports: its explanation line by line, and
//! one message that says why a request is refused.

use strake_access::{Decision, Effect, Evaluation, Policy, Request, Statement, action_matches, names_principal};

use super::say;

/// How a statement is named in an evaluation's lines: `<policy> Statement[<i>]`, with ` (Sid <sid>)`.
fn label(policy: &Policy, index: usize, sid: Option<&str>) -> String {
    match sid {
        Some(sid) if !sid.is_empty() => format!("{} Statement[{index}] (Sid {sid})", policy.name),
        _ => format!("{} Statement[{index}]", policy.name),
    }
}

/// Prints the explanation, one indented line each.
pub(super) fn print(evaluation: &Evaluation, out: &mut (dyn std::io::Write + Send)) {
    for line in &evaluation.explanation {
        say!(out, "    {line}");
    }
}

/// The decision in a word or two, for the line after the explanation.
pub(super) fn verdict(evaluation: &Evaluation) -> &'static str {
    match evaluation.decision {
        Decision::Allowed => "allowed",
        Decision::ExplicitDeny => "explicitly denied",
        Decision::ImplicitDeny => "denied (nothing allows it)",
        Decision::Conditional => "conditional",
    }
}

/// Whether a statement's `Action` (or `NotAction`) covers `action`.
fn covers(statement: &Statement, action: &str) -> bool {
    match (&statement.action, &statement.not_action) {
        (Some(patterns), _) => patterns.iter().any(|p| action_matches(p, action)),
        (None, Some(patterns)) => !patterns.iter().any(|p| action_matches(p, action)),
        (None, None) => false,
    }
}

/// Why `request` is refused (None unless denied): the evaluation's reason and, when the
/// `resource` policy has Allow statements for the action that do not name the principal, each of
/// their `Principal` lines, which say whom they name instead.
pub(super) fn refusal(evaluation: &Evaluation, resource: Option<&Policy>, request: &Request) -> Option<String> {
    if !matches!(evaluation.decision, Decision::ImplicitDeny | Decision::ExplicitDeny) {
        return None;
    }
    let mut message = evaluation.reason().unwrap_or_default();
    if evaluation.decision == Decision::ImplicitDeny
        && let Some(policy) = resource
    {
        let others =
            policy.statements.iter().filter(|s| s.effect == Effect::Allow && covers(s, &request.action) && !names_principal(s, &request.principal));
        for statement in others {
            let prefix = format!("{}: Principal ", label(policy, statement.index, statement.sid.as_deref()));
            if let Some(line) = evaluation.explanation.iter().find(|l| l.starts_with(&prefix)) {
                message.push_str("; ");
                message.push_str(line);
            }
        }
    }
    Some(message)
}

/// The undecided conditions of a conditional evaluation, for a warning.
pub(super) fn conditions(evaluation: &Evaluation) -> String {
    if evaluation.conditional_on.is_empty() { evaluation.reason().unwrap_or_default() } else { evaluation.conditional_on.join("; ") }
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use strake_access::{Policies, Principal, Request, evaluate};

    use super::*;

    const PROVIDER: &str = "arn:aws:iam::222222222222:oidc-provider/oidc.example/id/X";

    #[test]
    fn a_refusal_quotes_the_principal_a_resource_policy_names_instead() {
        let trust = Policy::parse(
            "trust of role r",
            &json!({"Statement": [{"Sid": "Pods", "Effect": "Allow", "Principal": {"Federated": "arn:aws:iam::111111111111:oidc-provider/oidc.example/id/X"},
                "Action": "sts:AssumeRoleWithWebIdentity"}]}),
        )
        .unwrap();
        let principal = Principal::WebIdentity { provider: PROVIDER.into() };
        let request = Request::new(principal.clone(), "sts:AssumeRoleWithWebIdentity", "arn:aws:iam::222222222222:role/r").complete();
        let e = evaluate(&request, &Policies { resource: Some(&trust), ..Policies::default() });
        let message = refusal(&e, Some(&trust), &request).unwrap();
        assert!(message.starts_with("implicit deny: "), "{message}");
        assert!(message.contains("trust of role r Statement[0] (Sid Pods): Principal {\"Federated\":\"arn:aws:iam::111111111111:"), "{message}");
        assert!(message.contains(PROVIDER), "{message}");
        assert_eq!(verdict(&e), "denied (nothing allows it)");
    }

    #[test]
    fn a_refusal_quotes_only_the_statements_for_its_action() {
        let other = "arn:aws:iam::222222222222:role/other";
        let bucket = Policy::parse(
            "bucket policy of b",
            &json!({"Statement": [
                {"Sid": "List", "Effect": "Allow", "Principal": {"AWS": other}, "Action": "s3:ListBucket", "Resource": "arn:aws:s3:::b"},
                {"Sid": "Read", "Effect": "Allow", "Principal": {"AWS": other}, "NotAction": "s3:Put*", "Resource": "arn:aws:s3:::b/*"},
            ]}),
        )
        .unwrap();
        let identity = Policy::parse("policy read", &json!({"Statement": {"Effect": "Allow", "Action": "s3:*", "Resource": "*"}})).unwrap();
        let role = Principal::Role { arn: "arn:aws:iam::222222222222:role/app".into() };
        let policies = Policies { identity: vec![&identity], boundary: None, resource: Some(&bucket) };
        let get = Request::new(role, "s3:GetObject", "arn:aws:s3:::b/k").resource_account("111111111111");
        let message = refusal(&evaluate(&get, &policies), Some(&bucket), &get).unwrap();
        assert!(message.contains("across accounts the bucket policy must allow it too"), "{message}");
        assert!(
            message.contains(&format!("bucket policy of b Statement[1] (Sid Read): Principal {{\"AWS\":\"{other}\"}} does not name role")),
            "{message}"
        );
        assert!(!message.contains("Sid List"), "{message}");
    }

    #[test]
    fn allowed_and_conditional_evaluations_are_no_refusal() {
        let trust = Policy::parse(
            "trust of role r",
            &json!({"Statement": {"Effect": "Allow", "Principal": {"Federated": PROVIDER}, "Action": "sts:AssumeRoleWithWebIdentity",
                "Condition": {"DateGreaterThan": {"aws:CurrentTime": "2020-01-01T00:00:00Z"}}}}),
        )
        .unwrap();
        let principal = Principal::WebIdentity { provider: PROVIDER.into() };
        let request = Request::new(principal.clone(), "sts:AssumeRoleWithWebIdentity", "arn:aws:iam::222222222222:role/r").complete();
        let e = evaluate(&request, &Policies { resource: Some(&trust), ..Policies::default() });
        assert_eq!(e.decision, Decision::Conditional, "{:#?}", e.explanation);
        assert_eq!(refusal(&e, Some(&trust), &request), None);
        assert!(conditions(&e).contains("DateGreaterThan"), "{}", conditions(&e));
    }
}
