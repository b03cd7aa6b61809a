//! The access review over stacks written out by hand: each test is a before and an after, and
//! the "Access changes" it must produce, in full.

use serde_json::{Value as Json, json};
use strake::review::{Change, PlanReview, ReviewRequest, Reviewed};
use strake::{Urn, Value};

use super::AccessReview;

const A: &str = "111111111111";
const B: &str = "222222222222";
const ISSUER: &str = "oidc.eks.us-east-1.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE";
const BUCKET: &str = "irsa-demo-bucket";

/// One resource: its URN, inputs, outputs, and where it lands.
struct Item(Urn, Value, Value, String);

fn item(type_token: &str, name: &str, inputs: Json, outputs: Json, account: &str) -> Item {
    Item(Urn::new("s", type_token, name), Value::from_json(inputs), Value::from_json(outputs), format!("AWS account {account}, region us-east-1"))
}

fn oidc_arn() -> String {
    format!("arn:aws:iam::{B}:oidc-provider/{ISSUER}")
}

fn trust(sub_operator: &str, sub: &str) -> Json {
    let mut condition = json!({"StringEquals": {format!("{ISSUER}:aud"): "sts.amazonaws.com"}});
    condition[sub_operator][format!("{ISSUER}:sub")] = json!(sub);
    json!({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Action": "sts:AssumeRoleWithWebIdentity", "Principal": {"Federated": oidc_arn()}, "Condition": condition
    }]})
}

/// The example's read policy: `actions` on the bucket's objects, and listing the bucket.
fn read_policy(actions: &[&str]) -> Json {
    json!({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": actions, "Resource": format!("arn:aws:s3:::{BUCKET}/*")},
        {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": format!("arn:aws:s3:::{BUCKET}")}
    ]})
}

/// The IRSA example's resources: an OIDC provider, a role trusting one service account, a read
/// policy attached to it, the bucket (account B), and the annotated service account (cluster A).
fn irsa(service_account: &str, trust: Json, policy: Json) -> Vec<Item> {
    let role_arn = format!("arn:aws:iam::{B}:role/s3");
    let policy_arn = format!("arn:aws:iam::{B}:policy/s3_read");
    let mut sa = item(
        "kubernetes:core:ServiceAccount",
        service_account,
        json!({"name": service_account, "namespace": "irsa-demo", "annotations": {"eks.amazonaws.com/role-arn": role_arn}}),
        json!({}),
        A,
    );
    sa.3 = "Kubernetes cluster https://demo.example:6443".into();
    vec![
        item("aws:iam:OpenIdConnectProvider", "oidc-issuer", json!({"url": format!("https://{ISSUER}")}), json!({"arn": oidc_arn()}), B),
        item("aws:iam:Role", "s3", json!({"name": "s3", "path": "/", "assume_role_policy": trust}), json!({"arn": role_arn}), B),
        item("aws:iam:Policy", "s3-read", json!({"name": "s3_read", "document": policy}), json!({"arn": policy_arn}), B),
        item("aws:iam:RolePolicyAttachment", "s3-read", json!({"role": "s3", "policy_arn": policy_arn}), json!({}), B),
        item("aws:s3:Bucket", "bucket", json!({"bucket": BUCKET}), json!({}), B),
        sa,
    ]
}

fn reviewed(items: &[Item]) -> Vec<Reviewed<'_>> {
    items
        .iter()
        .map(|Item(urn, inputs, outputs, destination)| Reviewed { urn, inputs, outputs: Some(outputs), destination: Some(destination) })
        .collect()
}

/// The section as the plan shows it, without colors: `+`/`-`, the summary, `(broadening)`, details.
fn review(before: &[Item], after: &[Item]) -> String {
    let request = ReviewRequest { before: reviewed(before), after: reviewed(after) };
    let Some(section) = AccessReview.review(&request) else { return "no section".into() };
    let mut out = String::new();
    for e in &section.entries {
        let mark = if e.change == Change::Gained { "+" } else { "-" };
        out.push_str(&format!("{mark} {}{}\n", e.summary, if e.broadening { " (broadening)" } else { "" }));
        for d in &e.details {
            out.push_str(&format!("    {d}\n"));
        }
    }
    for n in &section.notes {
        out.push_str(&format!("note: {n}\n"));
    }
    out
}

fn assert_lines(actual: &str, expected: &str) {
    let expected: String = expected.lines().map(str::trim_start).filter(|l| !l.is_empty()).map(|l| format!("{l}\n")).collect();
    let actual_trimmed: String = actual.lines().map(str::trim_start).map(|l| format!("{l}\n")).collect();
    assert_eq!(actual_trimmed, expected, "\nthe section:\n{actual}");
}

const SA_SUB: &str = "system:serviceaccount:irsa-demo:s3-sa";

/// What service account `s3-sa` loses when the trust no longer names it.
fn s3_sa_loses_the_bucket() -> String {
    format!(
        "- service account irsa-demo/s3-sa (cluster https://demo.example:6443) can sts:AssumeRoleWithWebIdentity on arn:aws:iam::{B}:role/s3 in account {B}
         via trust of role s3 (sts:AssumeRoleWithWebIdentity)
         - service account irsa-demo/s3-sa (cluster https://demo.example:6443) can s3:ListBucket on arn:aws:s3:::{BUCKET} in account {B}
         via trust of role s3 (sts:AssumeRoleWithWebIdentity) → policy s3_read
         - service account irsa-demo/s3-sa (cluster https://demo.example:6443) can s3:GetObject on arn:aws:s3:::{BUCKET}/* in account {B}
         via trust of role s3 (sts:AssumeRoleWithWebIdentity) → policy s3_read"
    )
}

#[test]
fn the_irsa_examples_first_plan_grants_the_service_account_the_bucket_through_the_role() {
    let after = irsa("s3-sa", trust("StringEquals", SA_SUB), read_policy(&["s3:GetObject"]));
    assert_lines(
        &review(&[], &after),
        &format!(
            "+ role s3 (account {B}) can s3:ListBucket on arn:aws:s3:::{BUCKET} in account {B} (broadening)
             via policy s3_read
             + role s3 (account {B}) can s3:GetObject on arn:aws:s3:::{BUCKET}/* in account {B} (broadening)
             via policy s3_read
             + service account irsa-demo/s3-sa (cluster https://demo.example:6443) can sts:AssumeRoleWithWebIdentity on arn:aws:iam::{B}:role/s3 in account {B} (broadening)
             via trust of role s3 (sts:AssumeRoleWithWebIdentity)
             + service account irsa-demo/s3-sa (cluster https://demo.example:6443) can s3:ListBucket on arn:aws:s3:::{BUCKET} in account {B} (broadening)
             via trust of role s3 (sts:AssumeRoleWithWebIdentity) → policy s3_read
             + service account irsa-demo/s3-sa (cluster https://demo.example:6443) can s3:GetObject on arn:aws:s3:::{BUCKET}/* in account {B} (broadening)
             via trust of role s3 (sts:AssumeRoleWithWebIdentity) → policy s3_read"
        ),
    );
}

#[test]
fn renaming_the_service_account_loses_one_grant_and_gains_one() {
    let policy = read_policy(&["s3:GetObject"]);
    let before = irsa("s3-sa", trust("StringEquals", SA_SUB), policy.clone());
    let after = irsa("s3-reader", trust("StringEquals", "system:serviceaccount:irsa-demo:s3-reader"), policy);
    assert_lines(
        &review(&before, &after),
        &format!(
            "+ service account irsa-demo/s3-reader (cluster https://demo.example:6443) can sts:AssumeRoleWithWebIdentity on arn:aws:iam::{B}:role/s3 in account {B} (broadening)
             via trust of role s3 (sts:AssumeRoleWithWebIdentity)
             + service account irsa-demo/s3-reader (cluster https://demo.example:6443) can s3:ListBucket on arn:aws:s3:::{BUCKET} in account {B} (broadening)
             via trust of role s3 (sts:AssumeRoleWithWebIdentity) → policy s3_read
             + service account irsa-demo/s3-reader (cluster https://demo.example:6443) can s3:GetObject on arn:aws:s3:::{BUCKET}/* in account {B} (broadening)
             via trust of role s3 (sts:AssumeRoleWithWebIdentity) → policy s3_read
             {}",
            s3_sa_loses_the_bucket()
        ),
    );
}

#[test]
fn a_narrowing_edit_only_loses_and_is_not_broadening() {
    let before = irsa("s3-sa", trust("StringEquals", SA_SUB), read_policy(&["s3:Get*"]));
    let after = irsa("s3-sa", trust("StringEquals", SA_SUB), read_policy(&["s3:GetObject", "s3:GetObjectVersion"]));
    let section = review(&before, &after);
    assert!(!section.contains("(broadening)"), "{section}");
    assert!(!section.contains("\n+") && !section.starts_with('+'), "nothing is gained: {section}");
    assert!(section.contains(&format!("- role s3 (account {B}) can s3:GetAccelerateConfiguration, ")), "{section}");
    assert!(!section.contains("s3:GetObject,") && !section.contains("s3:GetObjectVersion,"), "kept actions are not repeated: {section}");
}

#[test]
fn a_wider_sub_pattern_is_broadening_and_the_narrower_one_is_not() {
    let policy = read_policy(&["s3:GetObject"]);
    let exact = irsa("s3-sa", trust("StringEquals", SA_SUB), policy.clone());
    let wide = irsa("s3-sa", trust("StringLike", "system:serviceaccount:irsa-demo:*"), policy);
    let widened = review(&exact, &wide);
    assert_lines(
        &widened,
        &format!(
            "+ any web identity with sub like \"system:serviceaccount:irsa-demo:*\" from {ISSUER} can sts:AssumeRoleWithWebIdentity on arn:aws:iam::{B}:role/s3 in account {B} (broadening)
             via trust of role s3 (sts:AssumeRoleWithWebIdentity)
             + any web identity with sub like \"system:serviceaccount:irsa-demo:*\" from {ISSUER} can s3:ListBucket on arn:aws:s3:::{BUCKET} in account {B} (broadening)
             via trust of role s3 (sts:AssumeRoleWithWebIdentity) → policy s3_read
             + any web identity with sub like \"system:serviceaccount:irsa-demo:*\" from {ISSUER} can s3:GetObject on arn:aws:s3:::{BUCKET}/* in account {B} (broadening)
             via trust of role s3 (sts:AssumeRoleWithWebIdentity) → policy s3_read
             {}",
            s3_sa_loses_the_bucket()
        ),
    );
    let narrowed = review(&wide, &exact);
    assert!(!narrowed.contains("(broadening)"), "the exact subject was covered by the pattern: {narrowed}");
    assert!(narrowed.contains("+ service account irsa-demo/s3-sa"), "{narrowed}");
}

#[test]
fn a_bucket_policy_statement_that_opens_the_bucket_to_another_account_is_broadening() {
    let before = irsa("s3-sa", trust("StringEquals", SA_SUB), read_policy(&["s3:GetObject"]));
    let mut after = irsa("s3-sa", trust("StringEquals", SA_SUB), read_policy(&["s3:GetObject"]));
    let opened = json!({"Version": "2012-10-17", "Statement": [{
        "Sid": "PartnerRead", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::333333333333:root"},
        "Action": "s3:GetObject", "Resource": format!("arn:aws:s3:::{BUCKET}/*")
    }]});
    after.push(item("aws:s3:BucketPolicy", "bucket-policy", json!({"bucket": BUCKET, "policy": opened}), json!({}), B));
    assert_lines(
        &review(&before, &after),
        &format!(
            "+ account 333333333333 (the principals its own IAM policies allow) can s3:GetObject on arn:aws:s3:::{BUCKET}/* in account {B} (broadening)
             via bucket policy of {BUCKET}"
        ),
    );
}

#[test]
fn an_unchanged_stack_has_no_entries_and_a_stack_without_iam_no_section() {
    let stack = irsa("s3-sa", trust("StringEquals", SA_SUB), read_policy(&["s3:GetObject"]));
    assert_eq!(review(&stack, &irsa("s3-sa", trust("StringEquals", SA_SUB), read_policy(&["s3:GetObject"]))), "");
    let bucket_only = vec![item("aws:s3:Bucket", "bucket", json!({"bucket": BUCKET}), json!({}), B)];
    assert_eq!(review(&[], &bucket_only), "no section");
}

#[test]
fn a_condition_the_evaluator_cannot_decide_makes_the_grant_conditional_and_shows_it() {
    let policy = json!({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Action": "s3:GetObject", "Resource": format!("arn:aws:s3:::{BUCKET}/*"),
        "Condition": {"IpAddress": {"aws:SourceIp": "203.0.113.0/24"}}
    }]});
    let after = irsa("s3-sa", trust("StringEquals", SA_SUB), policy);
    let section = review(&[], &after);
    assert!(
        section.contains(&format!("+ role s3 (account {B}) can s3:GetObject on arn:aws:s3:::{BUCKET}/* in account {B} (conditional) (broadening)")),
        "{section}"
    );
    assert!(section.contains("if IpAddress"), "the condition is shown: {section}");
}

#[test]
fn a_policy_whose_arn_is_known_only_after_apply_is_not_taken_for_another() {
    let mut after = irsa("s3-sa", trust("StringEquals", SA_SUB), read_policy(&["s3:GetObject"]));
    // Both policies' ARNs and the attachment's policy are unknown at plan time.
    let admin = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]});
    after.push(item("aws:iam:Policy", "admin", json!({"name": "admin", "document": admin}), json!({}), B));
    for Item(urn, inputs, outputs, _) in &mut after {
        match urn.type_token() {
            "aws:iam:Policy" => outputs.set_path("arn", Some(Value::Unknown)),
            "aws:iam:RolePolicyAttachment" => inputs.set_path("policy_arn", Some(Value::Unknown)),
            _ => {}
        }
    }
    let section = review(&[], &after);
    assert!(!section.contains("policy s3_read") && !section.contains("policy admin"), "no policy is guessed: {section}");
    assert!(section.contains("note: a policy attached to role s3 is known only after apply: what it grants is not shown"), "{section}");
}
