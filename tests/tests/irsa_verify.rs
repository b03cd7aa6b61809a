//! `strake_irsa::verify::verify` against moto (account B) and a real kube-apiserver whose
//! service-account issuer is `TEST_ISSUER`: the whole chain from a TokenRequest token to an S3
//! object, and each link broken on purpose. The AWS side is made directly with the SDK in
//! account B; the ServiceAccount with kubectl, in a namespace of each test's own.
//!
//! moto checks neither web-identity tokens nor trust policies nor S3 permissions: the `trust`
//! and `s3 permission` refusals below come from verify's own evaluation (strake-access) of the
//! policies as IAM and S3 return them. There is a test for each classic IRSA mistake: `aud` and
//! `sub` swapped, a wildcard under `StringEquals`, the OIDC provider of another account, another
//! ServiceAccount in `sub`, and a bucket in another account whose policy does not allow the role.

use std::time::{SystemTime, UNIX_EPOCH};

use strake_irsa::verify::{Link, Verified, VerifyError, VerifyTarget, kube_client, verify};
use strake_tests::kube::{Kube, TEST_ISSUER};
use strake_tests::moto::{ACCOUNT_A, ACCOUNT_B};
use strake_tests::rig::MotoRig;

const ROLE_NAME: &str = "irsa-s3-reader";
const ROLE: &str = "arn:aws:iam::222222222222:role/irsa-s3-reader";
const OTHER_ROLE: &str = "arn:aws:iam::222222222222:role/irsa-other";
const BUCKET: &str = "irsa-verify-bucket";
const SA: &str = "s3-reader";
/// How the trust policy is named in verify's explanations.
const TRUST: &str = "trust of role irsa-s3-reader";
const CONTENT: &str = "this is a test to prove you can get this file from this bucket";

fn issuer_host_path() -> &'static str {
    TEST_ISSUER.trim_start_matches("https://")
}

/// How the trust's web-identity statement is written.
#[derive(Clone, Copy)]
enum Trust {
    /// As EKS documents it: `Federated` the provider in account B, `StringEquals` on `:sub` and `:aud`.
    AsDocumented,
    /// The values of `:sub` and `:aud` swapped.
    SubAndAudSwapped,
    /// `system:serviceaccount:<ns>:*` in `:sub`, under `StringEquals`.
    WildcardUnderStringEquals,
    /// `Federated` names the provider of this account rather than B's.
    ProviderOfAccount(&'static str),
}

/// What to build; the default is the correct chain.
struct Scenario {
    trust: Trust,
    /// The ServiceAccount the trust's `:sub` names (default: the real one).
    trusted_sa: Option<&'static str>,
    trusted_aud: &'static str,
    oidc_provider: bool,
    /// The ServiceAccount's role annotation (`None`: no ServiceAccount at all).
    annotation: Option<&'static str>,
    object: bool,
    /// The bucket in account A rather than B (without a bucket policy).
    bucket_in_a: bool,
    /// The read policy attached as a managed policy rather than inline.
    managed_read: bool,
    /// A permissions boundary that allows only `s3:ListBucket`.
    boundary: bool,
}

impl Default for Scenario {
    fn default() -> Self {
        Scenario {
            trust: Trust::AsDocumented,
            trusted_sa: None,
            trusted_aud: "sts.amazonaws.com",
            oidc_provider: true,
            annotation: Some(ROLE),
            object: true,
            bucket_in_a: false,
            managed_read: false,
            boundary: false,
        }
    }
}

/// The role's trust policy for test namespace `ns`.
fn trust_policy(s: &Scenario, ns: &str) -> serde_json::Value {
    let host = issuer_host_path();
    let subject = format!("system:serviceaccount:{ns}:{}", s.trusted_sa.unwrap_or(SA));
    let (sub, aud, account) = match s.trust {
        Trust::AsDocumented => (subject, s.trusted_aud.to_string(), ACCOUNT_B),
        Trust::SubAndAudSwapped => (s.trusted_aud.to_string(), subject, ACCOUNT_B),
        Trust::WildcardUnderStringEquals => (format!("system:serviceaccount:{ns}:*"), s.trusted_aud.to_string(), ACCOUNT_B),
        Trust::ProviderOfAccount(account) => (subject, s.trusted_aud.to_string(), account),
    };
    serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": {"Federated": format!("arn:aws:iam::{account}:oidc-provider/{host}")},
            "Action": "sts:AssumeRoleWithWebIdentity",
            "Condition": {"StringEquals": {format!("{host}:sub"): sub, format!("{host}:aud"): aud}},
        }],
    })
}

/// A bucket policy of [`BUCKET`] that lets `role` list the bucket and read its objects.
fn bucket_policy_for(role: &str) -> String {
    serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "List", "Effect": "Allow", "Principal": {"AWS": role}, "Action": "s3:ListBucket", "Resource": format!("arn:aws:s3:::{BUCKET}")},
            {"Sid": "Read", "Effect": "Allow", "Principal": {"AWS": role}, "Action": "s3:GetObject", "Resource": format!("arn:aws:s3:::{BUCKET}/*")},
        ],
    })
    .to_string()
}

/// moto, the API server, and this test's namespace (deleted on drop, without waiting).
struct World {
    aws: MotoRig,
    kube: Kube,
    ns: String,
}

impl Drop for World {
    fn drop(&mut self) {
        let _ = self.kube.kubectl(&["delete", "namespace", &self.ns, "--wait=false"]);
    }
}

impl World {
    fn target(&self) -> VerifyTarget {
        VerifyTarget::new(&self.ns, SA, ROLE, BUCKET)
    }

    /// Runs verify on [`World::target`], which must fail at `link` (`why` says why); returns the
    /// error and what verify printed.
    async fn fails_at(&self, link: Link, why: &str) -> (VerifyError, String) {
        let (result, out) = self.verify(&self.target()).await;
        let err = result.expect_err(why);
        assert_eq!(err.link, link, "{err}");
        (err, out)
    }

    /// Runs verify; returns its result and what it printed (also printed for `--nocapture`).
    async fn verify(&self, target: &VerifyTarget) -> (Result<Verified, VerifyError>, String) {
        let client = kube_client(Some(&self.kube.kubeconfig())).await.expect("a client for the test API server");
        let mut out = Vec::new();
        let result = verify(target, &client, &self.aws.moto.account_b(), &mut out).await;
        let text = String::from_utf8(out).expect("verify prints UTF-8");
        println!("{text}");
        (result, text)
    }
}

fn unique_namespace(tag: &str) -> String {
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().subsec_nanos();
    format!("irsa-{tag}-{:x}{:x}", std::process::id() % 0xfff, nanos % 0xfffff)
}

async fn world(tag: &str, s: Scenario) -> World {
    let aws = MotoRig::start().await;
    let kube = Kube::get();
    let ns = unique_namespace(tag);
    let iam = &aws.iam;

    if s.oidc_provider {
        iam.create_open_id_connect_provider()
            .url(TEST_ISSUER)
            .client_id_list("sts.amazonaws.com")
            .thumbprint_list("9e99a48a9960b14926bb7f3b02e22da2b0ab7280")
            .send()
            .await
            .expect("creating the OIDC provider in account B");
    }
    let trust = trust_policy(&s, &ns);
    let mut role = iam.create_role().role_name(ROLE_NAME).assume_role_policy_document(trust.to_string());
    if s.boundary {
        let list_only = serde_json::json!({
            "Version": "2012-10-17",
            "Statement": {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "*"},
        });
        let boundary = iam.create_policy().policy_name("list-only").policy_document(list_only.to_string()).send().await.expect("the boundary");
        role = role.permissions_boundary(boundary.policy.and_then(|p| p.arn).expect("the boundary's ARN"));
    }
    role.send().await.expect("creating the role");
    let read = serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": format!("arn:aws:s3:::{BUCKET}")},
            {"Effect": "Allow", "Action": "s3:GetObject", "Resource": format!("arn:aws:s3:::{BUCKET}/*")},
        ],
    });
    if s.managed_read {
        let created = iam.create_policy().policy_name("read-bucket").policy_document(read.to_string()).send().await.expect("managed policy");
        let arn = created.policy.and_then(|p| p.arn).expect("the managed policy's ARN");
        iam.attach_role_policy().role_name(ROLE_NAME).policy_arn(arn).send().await.expect("attaching the policy");
    } else {
        iam.put_role_policy().role_name(ROLE_NAME).policy_name("read-bucket").policy_document(read.to_string()).send().await.expect("role policy");
    }

    let s3 = if s.bucket_in_a { aws.s3_a() } else { aws.s3.clone() };
    s3.create_bucket().bucket(BUCKET).send().await.expect("creating the bucket");
    if s.object {
        s3.put_object().bucket(BUCKET).key("test.txt").body(CONTENT.as_bytes().to_vec().into()).send().await.expect("putting test.txt");
    }

    kube.kubectl_ok(&["create", "namespace", &ns]);
    if let Some(role) = s.annotation {
        kube.kubectl_ok(&["-n", &ns, "create", "serviceaccount", SA]);
        kube.kubectl_ok(&["-n", &ns, "annotate", "serviceaccount", SA, &format!("eks.amazonaws.com/role-arn={role}")]);
    }
    World { aws, kube, ns }
}

/// A trust condition's explanation: `StringEquals "<issuer>:<claim>" is [policy], the request has [token]`.
fn condition(claim: &str, policy: &str, token: &str) -> String {
    format!("StringEquals \"{}:{claim}\" is [\"{policy}\"], the request has [\"{token}\"]", issuer_host_path())
}

/// Asserts that verify stopped at `trust` before calling STS, and that the refusal names the
/// trust's statement and says it does not allow the token.
fn assert_trust_refused(err: &VerifyError, out: &str) {
    assert!(err.to_string().starts_with("the IRSA chain is broken at link `trust`: "), "{err}");
    assert!(err.message.contains(&format!("the trust policy of {ROLE} does not allow this token: implicit deny: ")), "{err}");
    assert!(err.message.contains(&format!("{TRUST} Statement[0]")), "{err}");
    // moto would have handed out credentials; verify stops before calling STS.
    assert!(!out.contains("== assume"), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_correct_chain_passes_and_prints_the_identity_and_the_object() {
    let w = world("ok", Scenario::default()).await;
    let (result, out) = w.verify(&w.target()).await;
    let v = result.unwrap_or_else(|e| panic!("{e}\n{out}"));

    assert_eq!(v.content_text(), CONTENT);
    assert_eq!(v.account, ACCOUNT_B);
    let prefix = format!("arn:aws:sts::{ACCOUNT_B}:assumed-role/{ROLE_NAME}/botocore-session-");
    assert!(v.assumed_arn.starts_with(&prefix), "{}", v.assumed_arn);
    assert_eq!(v.claims.sub, format!("system:serviceaccount:{}:{SA}", w.ns));
    assert_eq!(v.claims.iss, TEST_ISSUER);
    assert_eq!(v.claims.aud, vec!["sts.amazonaws.com".to_string()]);

    // The identity, as `aws sts get-caller-identity` prints it in the walkthrough.
    let identity = out.lines().find(|l| l.starts_with("{\"UserId\": ")).unwrap_or_else(|| panic!("no identity line:\n{out}"));
    assert!(identity.contains(&format!("\"Account\": \"{ACCOUNT_B}\", \"Arn\": \"{}\"}}", v.assumed_arn)), "{identity}");
    assert!(identity.contains(&format!("\"UserId\": \"{}\"", v.user_id)), "{identity}");
    // The token's signature was checked against the cluster's keys, and the trust evaluated.
    assert!(out.contains("signature: RS256 with key ") && out.contains(": valid"), "{out}");
    let sub = format!("system:serviceaccount:{}:{SA}", w.ns);
    assert!(out.contains(&format!("{TRUST} Statement[0]: {}: holds", condition("sub", &sub, &sub))), "{out}");
    assert!(out.contains(&format!("allowed by {TRUST} Statement[0]")), "{out}");
    // The role's S3 permissions were evaluated before the reads: within one account, its
    // inline policy is enough.
    let evaluated = out.find("allowed by inline policy read-bucket Statement[1]").unwrap_or_else(|| panic!("s3:GetObject not evaluated:\n{out}"));
    assert!(out.contains("allowed by inline policy read-bucket Statement[0]"), "{out}");
    assert!(out.contains(&format!("bucket policy of {BUCKET} (account {ACCOUNT_B}): none")), "{out}");
    // `aws s3 ls` then the object's content.
    assert!(out.find("$ aws s3 ls").is_some_and(|ls| ls > evaluated), "{out}");
    let ls = out.lines().find(|l| l.ends_with(" test.txt")).unwrap_or_else(|| panic!("no ls line:\n{out}"));
    assert!(ls.contains(&format!(" {} test.txt", CONTENT.len())), "{ls}");
    assert_eq!(ls.as_bytes()[4], b'-', "{ls}");
    assert!(out.contains(&format!("\n{CONTENT}\n")), "{out}");
    assert!(out.contains("verified: "), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trust_naming_another_service_account_fails_at_trust() {
    let w = world("sub", Scenario { trusted_sa: Some("someone-else"), ..Default::default() }).await;
    let (err, out) = w.fails_at(Link::Trust, "the trust names another ServiceAccount").await;
    assert_trust_refused(&err, &out);
    let (real, trusted) = (format!("system:serviceaccount:{}:{SA}", w.ns), format!("system:serviceaccount:{}:someone-else", w.ns));
    // The failed condition, with the policy's value and the token's.
    assert!(err.message.contains(&condition("sub", &trusted, &real)), "{err}");
    assert!(err.message.contains(&format!("same namespace {}, but the service account is {SA} in the request and someone-else", w.ns)), "{err}");
    assert!(out.contains(&format!("{TRUST} Statement[0]: {}", condition("sub", &trusted, &real))), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trust_with_the_wrong_audience_fails_at_trust() {
    let w = world("aud", Scenario { trusted_aud: "sts.amazonaws.com.cn", ..Default::default() }).await;
    let (err, out) = w.fails_at(Link::Trust, "the trust wants another audience").await;
    assert_trust_refused(&err, &out);
    assert!(err.message.contains(&condition("aud", "sts.amazonaws.com.cn", "sts.amazonaws.com")), "{err}");
    // The `:sub` condition held.
    let sub = format!("system:serviceaccount:{}:{SA}", w.ns);
    assert!(out.contains(&format!("{}: holds", condition("sub", &sub, &sub))), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trust_with_sub_and_aud_swapped_fails_at_trust() {
    let w = world("swap", Scenario { trust: Trust::SubAndAudSwapped, ..Default::default() }).await;
    let (err, out) = w.fails_at(Link::Trust, "the trust's sub and aud are swapped").await;
    assert_trust_refused(&err, &out);
    let sub = format!("system:serviceaccount:{}:{SA}", w.ns);
    let (aud_line, sub_line) = (condition("aud", &sub, "sts.amazonaws.com"), condition("sub", "sts.amazonaws.com", &sub));
    assert!(err.message.contains(&aud_line) || err.message.contains(&sub_line), "{err}");
    assert!(err.message.contains("are aud and sub swapped?"), "{err}");
    // Both conditions are explained, each with the hint.
    for line in [aud_line, sub_line] {
        let shown = out.lines().find(|l| l.contains(&line)).unwrap_or_else(|| panic!("no line with {line}:\n{out}"));
        assert!(shown.contains("are aud and sub swapped?"), "{shown}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wildcard_under_string_equals_fails_at_trust() {
    let w = world("wild", Scenario { trust: Trust::WildcardUnderStringEquals, ..Default::default() }).await;
    let (err, out) = w.fails_at(Link::Trust, "StringEquals compares the wildcard literally").await;
    assert_trust_refused(&err, &out);
    let (sub, wildcard) = (format!("system:serviceaccount:{}:{SA}", w.ns), format!("system:serviceaccount:{}:*", w.ns));
    assert!(err.message.contains(&condition("sub", &wildcard, &sub)), "{err}");
    assert!(err.message.contains("StringEquals compares literally") && err.message.contains("(StringLike matches them)"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_federated_provider_of_another_account_fails_at_trust() {
    let w = world("acct", Scenario { trust: Trust::ProviderOfAccount("111111111111"), ..Default::default() }).await;
    let (err, out) = w.fails_at(Link::Trust, "the trust names account 111111111111's OIDC provider").await;
    assert_trust_refused(&err, &out);
    let host = issuer_host_path();
    let (named, caller) = (format!("arn:aws:iam::111111111111:oidc-provider/{host}"), format!("arn:aws:iam::{ACCOUNT_B}:oidc-provider/{host}"));
    assert!(err.message.contains(&format!("Principal {{\"Federated\":\"{named}\"}} does not name web identity {caller}")), "{err}");
    assert!(err.message.contains(&format!("in account 111111111111, but the caller's is in account {ACCOUNT_B}")), "{err}");
    // B's provider itself is there: the trust is what names the wrong one.
    assert!(out.contains(&format!("OIDC provider {caller}: exists")), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_oidc_provider_fails_at_trust() {
    let w = world("oidc", Scenario { oidc_provider: false, ..Default::default() }).await;
    let (err, out) = w.fails_at(Link::Trust, "account B has no OIDC provider for the issuer").await;
    assert!(err.message.contains("has no IAM OIDC provider for the token's issuer"), "{err}");
    assert!(err.message.contains(TEST_ISSUER), "{err}");
    // The policy itself is fine, and the explanation says so.
    assert!(out.contains(&format!("allowed by {TRUST} Statement[0]")), "{out}");
    assert!(!err.message.contains("does not allow this token"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_account_annotated_with_another_role_is_reported() {
    let w = world("role", Scenario { annotation: Some(OTHER_ROLE), ..Default::default() }).await;
    let (err, _) = w.fails_at(Link::Token, "the ServiceAccount points to another role").await;
    assert!(err.message.contains(&format!("eks.amazonaws.com/role-arn: {OTHER_ROLE}")), "{err}");
    assert!(err.message.contains(&format!("the expected role is {ROLE}")), "{err}");
    assert!(err.message.contains(&format!("the pod would assume {OTHER_ROLE} instead")), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_service_account_fails_at_token() {
    let w = world("nosa", Scenario { annotation: None, ..Default::default() }).await;
    let (err, _) = w.fails_at(Link::Token, "there is no ServiceAccount").await;
    assert!(err.message.contains(&format!("ServiceAccount {}/{SA} does not exist", w.ns)), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_object_or_bucket_fails_at_s3_permission() {
    let w = world("s3", Scenario { object: false, ..Default::default() }).await;
    let (err, out) = w.fails_at(Link::S3Permission, "test.txt is missing").await;
    assert!(err.message.contains(&format!("s3://{BUCKET}/test.txt does not exist")) && err.message.contains("NoSuchKey"), "{err}");
    // Everything before S3 held: the identity was printed.
    assert!(out.contains(&format!("\"Arn\": \"arn:aws:sts::{ACCOUNT_B}:assumed-role/{ROLE_NAME}/")), "{out}");

    let mut target = w.target();
    target.bucket = "no-such-bucket-irsa".into();
    let (result, _) = w.verify(&target).await;
    let err = result.expect_err("the bucket is missing");
    assert_eq!(err.link, Link::S3Permission, "{err}");
    assert!(err.message.contains("bucket no-such-bucket-irsa does not exist"), "{err}");
    assert_eq!(err.link.to_string(), "s3 permission");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bucket_in_another_account_needs_its_bucket_policy_to_allow_the_role() {
    let w = world("xacct", Scenario { bucket_in_a: true, ..Default::default() }).await;
    let target = w.target().bucket_account(ACCOUNT_A);
    let object = format!("arn:aws:s3:::{BUCKET}/test.txt");

    // No bucket policy: the role's own policy allows, but across accounts that is not enough.
    let (result, out) = w.verify(&target).await;
    let err = result.expect_err("account A's bucket has no policy for the role");
    assert_eq!(err.link, Link::S3Permission, "{err}");
    assert!(err.message.contains(&format!("s3:GetObject on {object} is not allowed for {ROLE}")), "{err}");
    assert!(err.message.contains("across accounts the bucket policy must allow it too; bucket policy: none"), "{err}");
    assert!(out.contains(&format!("across accounts: {ACCOUNT_B} → {ACCOUNT_A}")), "{out}");
    // moto would have served the object; verify stops before reading it.
    assert!(!out.contains("$ aws s3 ls"), "{out}");

    // A bucket policy for another role: the refusal says whom it names instead.
    let s3_a = w.aws.s3_a();
    s3_a.put_bucket_policy().bucket(BUCKET).policy(bucket_policy_for(OTHER_ROLE)).send().await.expect("a bucket policy for another role");
    let (result, _) = w.verify(&target).await;
    let err = result.expect_err("the bucket policy names another role");
    assert_eq!(err.link, Link::S3Permission, "{err}");
    assert!(err.message.contains("across accounts the bucket policy must allow it too"), "{err}");
    let principal = format!("Principal {{\"AWS\":\"{OTHER_ROLE}\"}} does not name role {ROLE}");
    assert!(err.message.contains(&format!("bucket policy of {BUCKET} Statement[1] (Sid Read): {principal}")), "{err}");

    // A bucket policy for the role: each side allows it, and the object reads.
    s3_a.put_bucket_policy().bucket(BUCKET).policy(bucket_policy_for(ROLE)).send().await.expect("a bucket policy for the role");
    let (result, out) = w.verify(&target).await;
    let v = result.unwrap_or_else(|e| panic!("{e}\n{out}"));
    assert_eq!(v.content_text(), CONTENT);
    let allowed = format!(
        "allowed by inline policy read-bucket Statement[1], bucket policy of {BUCKET} Statement[1] (Sid Read) (across accounts, each side allows it)"
    );
    assert!(out.contains(&allowed), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_permissions_boundary_without_get_object_fails_at_s3_permission() {
    let w = world("bound", Scenario { boundary: true, managed_read: true, ..Default::default() }).await;
    let (err, out) = w.fails_at(Link::S3Permission, "the boundary allows only s3:ListBucket").await;
    assert!(out.contains("attached policy read-bucket (arn:aws:iam::222222222222:policy/read-bucket, default version)"), "{out}");
    assert!(out.contains("permissions boundary list-only (arn:aws:iam::222222222222:policy/list-only, default version)"), "{out}");
    // Listing is within the boundary; reading is not.
    assert!(out.contains("allowed by policy list-only Statement[0], policy read-bucket Statement[0]"), "{out}");
    let object = format!("arn:aws:s3:::{BUCKET}/test.txt");
    assert!(
        err.message.contains(&format!("implicit deny: the permissions boundary policy list-only does not allow s3:GetObject on {object}")),
        "{err}"
    );
    assert!(!err.message.contains("s3:ListBucket"), "{err}");
}
