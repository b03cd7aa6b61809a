//! The `s3 permission` link's local check, before the real reads: the role's identity policies,
//! its permissions boundary and the bucket policy, read back from IAM and S3, evaluated with
//! strake-access for `s3:ListBucket` on the bucket and `s3:GetObject` on the object. Real S3
//! enforces these; emulators such as moto do not, so this is what proves the link there.

use aws_config::SdkConfig;
use aws_sdk_iam::types::Role;
use aws_sdk_s3::error::ProvideErrorMetadata;
use serde_json::Value as Json;
use strake_access::{Decision, Evaluation, Policies, Policy, Principal, Request, evaluate};
use strake_aws::policy::parse_document;

use super::chain::{RoleArn, reason};
use super::{Link, VerifyError, VerifyTarget, evaluation, say};

fn fail(message: String) -> VerifyError {
    VerifyError::new(Link::S3Permission, message)
}

/// A policy document as IAM or S3 returns it (URL-encoded or not), parsed under `name`.
fn parse(name: String, raw: &str) -> Result<Policy, VerifyError> {
    let doc = parse_document(&Json::String(raw.to_string())).map_err(|e| fail(format!("{name} {e}")))?;
    Policy::parse(&name, &doc).map_err(|e| fail(format!("{name} cannot be evaluated: {e}")))
}

/// The role's own policies.
struct RolePolicies {
    /// Attached managed policies (default versions), then inline policies.
    identity: Vec<Policy>,
    boundary: Option<Policy>,
}

/// A managed policy's default version: its name and document.
async fn managed(iam: &aws_sdk_iam::Client, arn: &str) -> Result<(String, String), VerifyError> {
    let got = iam.get_policy().policy_arn(arn).send().await.map_err(|e| fail(format!("cannot read policy {arn} (iam:GetPolicy): {}", reason(&e))))?;
    let policy = got.policy.ok_or_else(|| fail(format!("iam:GetPolicy returned nothing for {arn}")))?;
    let name = policy.policy_name().unwrap_or_else(|| arn.rsplit('/').next().unwrap_or(arn)).to_string();
    let version = policy.default_version_id().ok_or_else(|| fail(format!("policy {arn} has no default version")))?;
    let got = iam
        .get_policy_version()
        .policy_arn(arn)
        .version_id(version)
        .send()
        .await
        .map_err(|e| fail(format!("cannot read version {version} of policy {arn} (iam:GetPolicyVersion): {}", reason(&e))))?;
    let document = got.policy_version.and_then(|v| v.document).ok_or_else(|| fail(format!("version {version} of policy {arn} has no document")))?;
    Ok((name, document))
}

/// Reads the role's attached and inline policies and its permissions boundary from IAM.
async fn role_policies(iam: &aws_sdk_iam::Client, role: &Role, out: &mut (dyn std::io::Write + Send)) -> Result<RolePolicies, VerifyError> {
    let name = role.role_name();
    let mut identity = Vec::new();
    let mut marker = None;
    loop {
        let page = iam
            .list_attached_role_policies()
            .role_name(name)
            .set_marker(marker.take())
            .send()
            .await
            .map_err(|e| fail(format!("cannot list the policies attached to role {name} (iam:ListAttachedRolePolicies): {}", reason(&e))))?;
        for attached in page.attached_policies() {
            let arn = attached.policy_arn().unwrap_or_default();
            let (policy_name, document) = managed(iam, arn).await?;
            say!(out, "  attached policy {policy_name} ({arn}, default version)");
            identity.push(parse(format!("policy {policy_name}"), &document)?);
        }
        match page.marker {
            Some(next) if page.is_truncated => marker = Some(next),
            _ => break,
        }
    }
    let mut marker = None;
    loop {
        let page = iam
            .list_role_policies()
            .role_name(name)
            .set_marker(marker.take())
            .send()
            .await
            .map_err(|e| fail(format!("cannot list the inline policies of role {name} (iam:ListRolePolicies): {}", reason(&e))))?;
        for policy_name in page.policy_names() {
            let got = iam
                .get_role_policy()
                .role_name(name)
                .policy_name(policy_name)
                .send()
                .await
                .map_err(|e| fail(format!("cannot read inline policy {policy_name} of role {name} (iam:GetRolePolicy): {}", reason(&e))))?;
            say!(out, "  inline policy {policy_name}");
            identity.push(parse(format!("inline policy {policy_name}"), got.policy_document())?);
        }
        match page.marker {
            Some(next) if page.is_truncated => marker = Some(next),
            _ => break,
        }
    }
    if identity.is_empty() {
        say!(out, "  no identity policies");
    }
    let boundary = match role.permissions_boundary().and_then(|b| b.permissions_boundary_arn()) {
        Some(arn) => {
            let (policy_name, document) = managed(iam, arn).await?;
            say!(out, "  permissions boundary {policy_name} ({arn}, default version)");
            Some(parse(format!("policy {policy_name}"), &document)?)
        }
        None => None,
    };
    Ok(RolePolicies { identity, boundary })
}

/// The bucket policy as read.
enum BucketPolicy {
    Some(Policy),
    None,
    /// It could not be read (across accounts only the bucket's account may read it): why.
    Unreadable(String),
}

async fn bucket_policy(sdk: &SdkConfig, bucket: &str) -> Result<BucketPolicy, VerifyError> {
    let config = aws_sdk_s3::config::Builder::from(sdk).force_path_style(sdk.endpoint_url().is_some()).build();
    let s3 = aws_sdk_s3::Client::from_conf(config);
    match s3.get_bucket_policy().bucket(bucket).send().await {
        Ok(got) => match got.policy() {
            Some(text) if !text.trim().is_empty() => Ok(BucketPolicy::Some(parse(format!("bucket policy of {bucket}"), text)?)),
            _ => Ok(BucketPolicy::None),
        },
        Err(e) => match e.code() {
            Some("NoSuchBucketPolicy") => Ok(BucketPolicy::None),
            Some("NoSuchBucket") => Err(fail(format!("bucket {bucket} does not exist ({})", reason(&e)))),
            _ => Ok(BucketPolicy::Unreadable(reason(&e))),
        },
    }
}

/// What one evaluated S3 request means for the link.
#[derive(Debug, PartialEq)]
enum Outcome {
    Allowed,
    /// Printed; the link goes on.
    Warning(String),
    /// The link fails: why.
    Refused(String),
}

/// Judges an evaluation of `request`. With the bucket policy `unread`, the evaluation covers the
/// role's own policies only: their refusal is final across accounts (both sides must allow) or
/// when a Deny applies, and otherwise a warning (the bucket policy alone may allow it).
fn judge(evaluation: &Evaluation, request: &Request, resource: Option<&Policy>, unread: bool, across: bool) -> Outcome {
    match evaluation::refusal(evaluation, resource, request) {
        Some(why) if !unread => Outcome::Refused(why),
        Some(why) if evaluation.decision == Decision::ExplicitDeny => Outcome::Refused(why),
        Some(why) if across => {
            Outcome::Refused(format!("its own policies do not allow it, and across accounts they must (the bucket policy could not be read): {why}"))
        }
        Some(_) => Outcome::Warning("the role's own policies do not allow it; only the bucket policy, which could not be read, may".into()),
        None if evaluation.decision == Decision::Conditional => {
            Outcome::Warning(format!("{} depends on conditions not evaluated here: {}", request.action, evaluation::conditions(evaluation)))
        }
        None => Outcome::Allowed,
    }
}

/// Evaluates `s3:ListBucket` on the bucket and `s3:GetObject` on the object for the role, with the
/// policies `sdk` (the role's account) reads; fails when either is denied, warns when either
/// depends on conditions not evaluated here.
pub(super) async fn check(
    sdk: &SdkConfig,
    role: &RoleArn,
    iam_role: &Role,
    target: &VerifyTarget,
    out: &mut (dyn std::io::Write + Send),
) -> Result<(), VerifyError> {
    let role_arn = iam_role.arn();
    let bucket = &target.bucket;
    let bucket_account = target.bucket_account.clone().unwrap_or_else(|| role.account.clone());
    let across = bucket_account != role.account;
    say!(out, "policies of role {role_arn} (from IAM in account {}):", role.account);
    let iam = aws_sdk_iam::Client::new(sdk);
    let policies = role_policies(&iam, iam_role, out).await?;
    let bucket_policy = bucket_policy(sdk, bucket).await?;
    let (resource, resource_account) = match &bucket_policy {
        BucketPolicy::Some(policy) => {
            say!(out, "bucket policy of {bucket} (account {bucket_account}, from s3:GetBucketPolicy)");
            (Some(policy), bucket_account.clone())
        }
        BucketPolicy::None => {
            say!(out, "bucket policy of {bucket} (account {bucket_account}): none");
            (None, bucket_account.clone())
        }
        BucketPolicy::Unreadable(why) => {
            say!(out, "bucket policy of {bucket} (account {bucket_account}): cannot read it (s3:GetBucketPolicy: {why})");
            say!(out, "  WARNING: only the role's own policies are evaluated; the reads below show what the bucket policy allows");
            // Without the bucket policy only the role's side can be evaluated: as if in one account.
            (None, role.account.clone())
        }
    };

    let principal = Principal::Role { arn: role_arn.to_string() };
    let checks = [("s3:ListBucket", format!("arn:aws:s3:::{bucket}")), ("s3:GetObject", format!("arn:aws:s3:::{bucket}/{}", target.key))];
    let mut problems = Vec::new();
    for (action, resource_arn) in checks {
        let request = Request::new(principal.clone(), action, &resource_arn).resource_account(&resource_account);
        let evaluation =
            evaluate(&request, &Policies { identity: policies.identity.iter().collect(), boundary: policies.boundary.as_ref(), resource });
        say!(out, "evaluating {action} on {resource_arn}:");
        evaluation::print(&evaluation, out);
        say!(out, "  => {}", evaluation::verdict(&evaluation));
        match judge(&evaluation, &request, resource, matches!(bucket_policy, BucketPolicy::Unreadable(_)), across) {
            Outcome::Refused(why) => problems.push(format!("{action} on {resource_arn} is not allowed for {role_arn}: {why}")),
            Outcome::Warning(why) => say!(out, "  WARNING: {why}"),
            Outcome::Allowed => {}
        }
    }
    if problems.is_empty() { Ok(()) } else { Err(fail(problems.join("; "))) }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const ROLE: &str = "arn:aws:iam::222222222222:role/app";

    fn policy(name: &str, doc: serde_json::Value) -> Policy {
        Policy::parse(name, &doc).unwrap()
    }

    /// Evaluates `s3:GetObject` on `b/k` in `account` and judges it.
    fn judged(identity: &Policy, bucket: Option<&Policy>, account: &str, unread: bool) -> Outcome {
        let request = Request::new(Principal::Role { arn: ROLE.into() }, "s3:GetObject", "arn:aws:s3:::b/k").resource_account(account);
        let evaluation = evaluate(&request, &Policies { identity: vec![identity], boundary: None, resource: bucket });
        judge(&evaluation, &request, bucket, unread, account != "222222222222")
    }

    #[test]
    fn documents_parse_url_encoded_or_not() {
        let p = parse(
            "policy p".into(),
            "%7B%22Statement%22%3A%7B%22Effect%22%3A%22Allow%22%2C%22Action%22%3A%22s3%3A*%22%2C%22Resource%22%3A%22*%22%7D%7D",
        )
        .unwrap();
        assert_eq!(p.statements.len(), 1);
        let err = parse("bucket policy of b".into(), r#"{"Statement": {"Effect": "Alow"}}"#).unwrap_err();
        assert_eq!(err.link, Link::S3Permission);
        assert!(err.message.starts_with("bucket policy of b cannot be evaluated: Statement[0]"), "{err}");
    }

    #[test]
    fn a_denial_refuses_and_a_condition_warns() {
        let read = policy("policy read", json!({"Statement": {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}}));
        assert_eq!(judged(&read, None, "222222222222", false), Outcome::Allowed);
        let Outcome::Refused(why) = judged(&read, None, "111111111111", false) else { panic!("allowed across accounts without a bucket policy") };
        assert!(why.contains("across accounts the bucket policy must allow it too; bucket policy: none"), "{why}");
        let vpc = policy(
            "policy vpc",
            json!({"Statement": {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*", "Condition": {"StringEquals": {"aws:SourceVpc": "vpc-1"}}}}),
        );
        let Outcome::Warning(why) = judged(&vpc, None, "222222222222", false) else { panic!("not conditional") };
        assert!(why.starts_with("s3:GetObject depends on conditions not evaluated here: StringEquals \"aws:SourceVpc\""), "{why}");
    }

    #[test]
    fn an_unread_bucket_policy_leaves_only_the_roles_own_refusal_final() {
        // Unread, the evaluation is of the role's side alone, made in the role's account.
        let none = policy("policy other", json!({"Statement": {"Effect": "Allow", "Action": "s3:PutObject", "Resource": "*"}}));
        assert!(matches!(judged(&none, None, "222222222222", true), Outcome::Warning(_)));
        let request = Request::new(Principal::Role { arn: ROLE.into() }, "s3:GetObject", "arn:aws:s3:::b/k").resource_account("222222222222");
        let evaluation = evaluate(&request, &Policies { identity: vec![&none], ..Policies::default() });
        let Outcome::Refused(why) = judge(&evaluation, &request, None, true, true) else { panic!("across accounts the role's side must allow") };
        assert!(why.starts_with("its own policies do not allow it, and across accounts they must"), "{why}");
        let deny = policy("policy deny", json!({"Statement": {"Effect": "Deny", "Action": "s3:*", "Resource": "*"}}));
        let Outcome::Refused(why) = judged(&deny, None, "222222222222", true) else { panic!("a Deny is final") };
        assert!(why.starts_with("explicit deny: policy deny Statement[0]"), "{why}");
    }
}
