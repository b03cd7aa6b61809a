//! `strake_irsa::verify::verify` against moto (account B) and a real kube-apiserver whose
//! service-account issuer is `TEST_ISSUER`: the whole chain from a TokenRequest token to an S3
//! object, and each link broken on purpose. The AWS side is made directly with the SDK in
//! account B; the ServiceAccount with kubectl, in a namespace of each test's own.
//!
//! moto checks neither web-identity tokens nor trust policies (nor S3 permissions): the `trust`
//! failures below come from verify's own evaluation of the role's trust policy as IAM returns it.

use std::time::{SystemTime, UNIX_EPOCH};

use strake_irsa::verify::{Link, Verified, VerifyError, VerifyTarget, kube_client, verify};
use strake_tests::kube::{Kube, TEST_ISSUER};
use strake_tests::moto::ACCOUNT_B;
use strake_tests::rig::MotoRig;

const ROLE_NAME: &str = "irsa-s3-reader";
const ROLE: &str = "arn:aws:iam::222222222222:role/irsa-s3-reader";
const OTHER_ROLE: &str = "arn:aws:iam::222222222222:role/irsa-other";
const BUCKET: &str = "irsa-verify-bucket";
const SA: &str = "s3-reader";
const CONTENT: &str = "this is a test to prove you can get this file from this bucket";

fn issuer_host_path() -> &'static str {
    TEST_ISSUER.trim_start_matches("https://")
}

/// What to build; the default is the correct chain.
struct Scenario {
    /// The ServiceAccount the trust's `:sub` names (default: the real one).
    trusted_sa: Option<&'static str>,
    trusted_aud: &'static str,
    oidc_provider: bool,
    /// The ServiceAccount's role annotation (`None`: no ServiceAccount at all).
    annotation: Option<&'static str>,
    object: bool,
}

impl Default for Scenario {
    fn default() -> Self {
        Scenario { trusted_sa: None, trusted_aud: "sts.amazonaws.com", oidc_provider: true, annotation: Some(ROLE), object: true }
    }
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
    let host = issuer_host_path();
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
    let trust = serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": {"Federated": format!("arn:aws:iam::{ACCOUNT_B}:oidc-provider/{host}")},
            "Action": "sts:AssumeRoleWithWebIdentity",
            "Condition": {"StringEquals": {
                format!("{host}:sub"): format!("system:serviceaccount:{ns}:{}", s.trusted_sa.unwrap_or(SA)),
                format!("{host}:aud"): s.trusted_aud,
            }},
        }],
    });
    iam.create_role().role_name(ROLE_NAME).assume_role_policy_document(trust.to_string()).send().await.expect("creating the role");
    let read = serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": format!("arn:aws:s3:::{BUCKET}")},
            {"Effect": "Allow", "Action": "s3:GetObject", "Resource": format!("arn:aws:s3:::{BUCKET}/*")},
        ],
    });
    iam.put_role_policy().role_name(ROLE_NAME).policy_name("read-bucket").policy_document(read.to_string()).send().await.expect("role policy");

    let s3 = &aws.s3;
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
    assert!(out.contains("result: allowed by Statement[0]"), "{out}");
    // `aws s3 ls` then the object's content.
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
    let (real, trusted) = (format!("system:serviceaccount:{}:{SA}", w.ns), format!("system:serviceaccount:{}:someone-else", w.ns));
    assert!(err.message.contains(&trusted) && err.message.contains(&real), "{err}");
    let line = out.lines().find(|l| l.contains("MISMATCH")).unwrap_or_else(|| panic!("no mismatch line:\n{out}"));
    assert!(
        line.contains(&format!("StringEquals {}:sub: the token's sub is \"{real}\", the policy wants \"{trusted}\"", issuer_host_path())),
        "{line}"
    );
    // moto would have handed out credentials; verify stops before calling STS.
    assert!(!out.contains("== assume"), "{out}");
    assert!(err.to_string().starts_with("the IRSA chain is broken at link `trust`: "), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trust_with_the_wrong_audience_fails_at_trust() {
    let w = world("aud", Scenario { trusted_aud: "sts.amazonaws.com.cn", ..Default::default() }).await;
    let (_, out) = w.fails_at(Link::Trust, "the trust wants another audience").await;
    let line = out.lines().find(|l| l.contains("MISMATCH")).unwrap_or_else(|| panic!("no mismatch line:\n{out}"));
    assert!(line.contains(":aud: the token's aud is \"sts.amazonaws.com\", the policy wants \"sts.amazonaws.com.cn\""), "{line}");
    // The `:sub` condition held.
    assert!(out.contains(&format!("ok       StringEquals {}:sub", issuer_host_path())), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_oidc_provider_fails_at_trust() {
    let w = world("oidc", Scenario { oidc_provider: false, ..Default::default() }).await;
    let (err, out) = w.fails_at(Link::Trust, "account B has no OIDC provider for the issuer").await;
    assert!(err.message.contains("has no IAM OIDC provider for the token's issuer"), "{err}");
    assert!(err.message.contains(TEST_ISSUER), "{err}");
    // The policy itself is fine, and the explanation says so.
    assert!(out.contains("result: allowed by Statement[0]"), "{out}");
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
