//! The resources a review reads, as IAM sees them: roles with their trust and boundary, managed
//! and inline policies, attachments, buckets and their policies, OIDC providers, and the
//! Kubernetes service accounts annotated with a role (IRSA).

use std::collections::BTreeMap;

use serde_json::Value as Json;
use strake::Value;
use strake::review::Reviewed;
use strake_access::Policy;

use crate::resources::iam::oidc_provider::{OidcProviderInputs, OidcProviderOutputs};
use crate::resources::iam::policy::{PolicyInputs, PolicyOutputs};
use crate::resources::iam::role::{RoleInputs, RoleOutputs};
use crate::resources::iam::role_policy::RolePolicyInputs;
use crate::resources::iam::role_policy_attachment::Attachment;
use crate::resources::s3::bucket::BucketInputs;
use crate::resources::s3::bucket_policy::BucketPolicyInputs;
use crate::resources::{iam, s3};

/// What shows in a policy for a value known only after apply.
pub const UNKNOWN: &str = "(known after apply)";

/// The annotation EKS reads to give a service account's pods a role.
pub const ROLE_ARN_ANNOTATION: &str = "eks.amazonaws.com/role-arn";

/// The type token of a Kubernetes service account (read here by its annotation only).
const SERVICE_ACCOUNT: &str = "kubernetes:core:ServiceAccount";

/// A role.
#[derive(Debug, Clone)]
pub struct RoleInfo {
    /// Its name in IAM.
    pub name: String,
    /// Its ARN (with [`UNKNOWN`] parts when not known at plan time).
    pub arn: String,
    /// Its account, when known.
    pub account: Option<String>,
    /// Its trust policy.
    pub trust: Option<Policy>,
    /// Its permissions boundary's ARN.
    pub boundary: Option<String>,
    /// Its identity policies: managed ones attached, and inline ones.
    pub policies: Vec<Policy>,
}

/// A Kubernetes service account that names a role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceAccountInfo {
    /// `namespace/name`.
    pub name: String,
    /// The annotated role ARN.
    pub role_arn: String,
    /// Its cluster, as its provider says.
    pub cluster: Option<String>,
}

/// The stack on one side of a plan, as IAM sees it.
#[derive(Debug, Clone, Default)]
pub struct Inventory {
    /// Roles, by ARN.
    pub roles: BTreeMap<String, RoleInfo>,
    /// Managed policies by ARN (for boundaries).
    pub managed: BTreeMap<String, Policy>,
    /// Buckets: name → account.
    pub buckets: BTreeMap<String, Option<String>>,
    /// Bucket policies by bucket name.
    pub bucket_policies: BTreeMap<String, Policy>,
    /// OIDC providers: ARN → issuer (host and path).
    pub oidc_providers: BTreeMap<String, String>,
    /// Service accounts that name a role.
    pub service_accounts: Vec<ServiceAccountInfo>,
    /// Documents that could not be read (shown as notes).
    pub problems: Vec<String>,
}

/// The account in a provider's destination (`AWS account 222222222222, region us-east-1`).
pub fn account_of(destination: Option<&str>) -> Option<String> {
    let rest = destination?.strip_prefix("AWS account ")?;
    let id: String = rest.chars().take_while(char::is_ascii_digit).collect();
    (id.len() == 12).then_some(id)
}

/// The account in an ARN's fifth field, when it has one.
pub fn arn_account(arn: &str) -> Option<String> {
    let account = arn.split(':').nth(4)?;
    (account.len() == 12 && account.chars().all(|c| c.is_ascii_digit())).then(|| account.to_string())
}

/// Plain JSON, with [`UNKNOWN`] for what is known only after apply and secrets revealed.
pub fn plain(v: &Value) -> Json {
    match v {
        Value::Null => Json::Null,
        Value::Bool(b) => Json::Bool(*b),
        Value::Number(n) => Json::Number(n.clone()),
        Value::String(s) => Json::String(s.to_string()),
        Value::List(items) => Json::Array(items.iter().map(plain).collect()),
        Value::Map(m) => Json::Object(m.iter().map(|(k, v)| (k.clone(), plain(v))).collect()),
        Value::Unknown => Json::String(UNKNOWN.into()),
        Value::Secret(inner) => plain(inner),
    }
}

fn text(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) => Some(s.to_string()),
        Value::Unknown => Some(UNKNOWN.into()),
        Value::Secret(inner) => text(Some(inner)),
        _ => None,
    }
}

/// A JSON document given as an object or as text.
fn document(v: Option<&Value>) -> Option<Json> {
    match plain(v?) {
        Json::String(s) if s != UNKNOWN => serde_json::from_str(&s).ok(),
        Json::Object(o) => Some(Json::Object(o)),
        _ => None,
    }
}

/// Attachments and inline policies, given to their roles once every role is read.
#[derive(Default)]
struct Parts {
    attachments: Vec<(Option<String>, String, String)>,
    inline: Vec<(Option<String>, String, Policy)>,
}

impl Inventory {
    /// Reads the resources of one side of a plan.
    pub fn read(resources: &[Reviewed<'_>]) -> Inventory {
        let mut inv = Inventory::default();
        let mut parts = Parts::default();
        let mut managed_by_arn = BTreeMap::new();
        for r in resources {
            let account = account_of(r.destination);
            let field = |name: &str| r.inputs.get(name);
            let output = |name: &str| r.outputs.and_then(|o| o.get(name));
            let name = r.urn.name();
            match r.urn.type_token() {
                iam::role::TYPE => inv.add_role(r, account),
                iam::policy::TYPE => {
                    // Unknown, the ARN stands for itself by URN, so no attachment takes it for another.
                    let arn = text(output(PolicyOutputs::ARN.name()))
                        .filter(|arn| arn != UNKNOWN)
                        .unwrap_or_else(|| format!("{UNKNOWN}: the arn of {}", r.urn));
                    let label = format!("policy {}", text(field(PolicyInputs::NAME.name())).unwrap_or_else(|| name.to_string()));
                    if let Some(p) = inv.parse(&label, document(field(PolicyInputs::DOCUMENT.name()))) {
                        managed_by_arn.insert(arn, p);
                    }
                }
                iam::role_policy_attachment::TYPE => {
                    if let (Some(role), Some(arn)) = (text(field(Attachment::ROLE.name())), text(field(Attachment::POLICY_ARN.name()))) {
                        parts.attachments.push((account, role, arn));
                    }
                }
                iam::role_policy::TYPE => {
                    let role = text(field(RolePolicyInputs::ROLE.name())).unwrap_or_else(|| UNKNOWN.into());
                    let label =
                        format!("inline policy {} of role {role}", text(field(RolePolicyInputs::NAME.name())).unwrap_or_else(|| name.to_string()));
                    if let Some(p) = inv.parse(&label, document(field(RolePolicyInputs::POLICY.name()))) {
                        parts.inline.push((account, role, p));
                    }
                }
                s3::bucket::TYPE => {
                    let bucket = text(field(BucketInputs::BUCKET.name())).unwrap_or_else(|| UNKNOWN.into());
                    inv.buckets.insert(bucket, account);
                }
                s3::bucket_policy::TYPE => {
                    let bucket = text(field(BucketPolicyInputs::BUCKET.name())).unwrap_or_else(|| UNKNOWN.into());
                    if let Some(p) = inv.parse(&format!("bucket policy of {bucket}"), document(field(BucketPolicyInputs::POLICY.name()))) {
                        inv.bucket_policies.insert(bucket.clone(), p);
                        inv.buckets.entry(bucket).or_insert(account);
                    }
                }
                iam::oidc_provider::TYPE => {
                    let url = text(field(OidcProviderInputs::URL.name())).unwrap_or_default();
                    let issuer = url.trim_start_matches("https://").to_string();
                    let arn = text(output(OidcProviderOutputs::ARN.name()))
                        .filter(|arn| arn != UNKNOWN)
                        .unwrap_or_else(|| format!("arn:aws:iam::{}:oidc-provider/{issuer}", account.as_deref().unwrap_or(UNKNOWN)));
                    inv.oidc_providers.insert(arn, issuer);
                }
                SERVICE_ACCOUNT => inv.add_service_account(r),
                _ => {}
            }
        }
        inv.managed = managed_by_arn;
        inv.attach(parts);
        inv
    }

    fn parse(&mut self, label: &str, doc: Option<Json>) -> Option<Policy> {
        let doc = doc?;
        match Policy::parse(label, &doc) {
            Ok(p) => Some(p),
            Err(e) => {
                self.problems.push(format!("{label} cannot be evaluated: {e}"));
                None
            }
        }
    }

    fn add_role(&mut self, r: &Reviewed<'_>, account: Option<String>) {
        let field = |name: &str| r.inputs.get(name);
        let name = text(field(RoleInputs::NAME.name())).unwrap_or_else(|| r.urn.name().to_string());
        let arn = text(r.outputs.and_then(|o| o.get(RoleOutputs::ARN.name()))).filter(|arn| arn != UNKNOWN).unwrap_or_else(|| {
            let path = text(field(RoleInputs::PATH.name())).unwrap_or_else(|| "/".into());
            format!("arn:aws:iam::{}:role{path}{name}", account.as_deref().unwrap_or(UNKNOWN))
        });
        let account = arn_account(&arn).or(account);
        let trust = self.parse(&format!("trust of role {name}"), document(field(RoleInputs::ASSUME_ROLE_POLICY.name())));
        let boundary = text(field(RoleInputs::PERMISSIONS_BOUNDARY.name()));
        self.roles.insert(arn.clone(), RoleInfo { name, arn, account, trust, boundary, policies: Vec::new() });
    }

    fn add_service_account(&mut self, r: &Reviewed<'_>) {
        let Some(role_arn) = r.inputs.get("annotations").and_then(|a| a.get(ROLE_ARN_ANNOTATION)).and_then(|v| text(Some(v))) else { return };
        let namespace = text(r.inputs.get("namespace")).unwrap_or_else(|| "default".into());
        let name = text(r.inputs.get("name")).unwrap_or_else(|| r.urn.name().to_string());
        let cluster = r.destination.map(|d| d.trim_start_matches("Kubernetes cluster ").to_string());
        self.service_accounts.push(ServiceAccountInfo { name: format!("{namespace}/{name}"), role_arn, cluster });
    }

    /// Gives each role its attached and inline policies (a role is named by its name, in its account).
    fn attach(&mut self, parts: Parts) {
        for role in self.roles.values_mut() {
            let same = |account: &Option<String>, name: &str| name == role.name && (account.is_none() || *account == role.account);
            for (account, name, arn) in &parts.attachments {
                if !same(account, name) {
                    continue;
                }
                match self.managed.get(arn) {
                    Some(p) => role.policies.push(p.clone()),
                    None if arn == UNKNOWN => {
                        self.problems.push(format!("a policy attached to role {} is known only after apply: what it grants is not shown", role.name))
                    }
                    None => self
                        .problems
                        .push(format!("policy {arn}, attached to role {}, is not declared in this stack: what it grants is not shown", role.name)),
                }
            }
            for (account, name, p) in &parts.inline {
                if same(account, name) {
                    role.policies.push(p.clone());
                }
            }
        }
    }
}
