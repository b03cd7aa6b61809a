//! `kubernetes:core:ServiceAccount`, with IRSA helpers (`eks.amazonaws.com/*` annotations).

use serde::{Deserialize, Serialize};
use serde_json::Value as Json;
use strake::provider::CheckFailure;
use strake::typed::*;
use strake::{Output, ProviderRef, Resource, ResourceHandle, Stack, Value};

use super::namespace::Namespace;
use super::{Kind, ObjectKind, ObjectOutputs, StringMap, output_map, string_map};
use crate::provider::Kubernetes;

pub const TYPE: &str = "kubernetes:core:ServiceAccount";

pub const ROLE_ARN: &str = "eks.amazonaws.com/role-arn";
pub const AUDIENCE: &str = "eks.amazonaws.com/audience";
pub const STS_REGIONAL_ENDPOINTS: &str = "eks.amazonaws.com/sts-regional-endpoints";
pub const TOKEN_EXPIRATION: &str = "eks.amazonaws.com/token-expiration";
/// Program-only input: the trust policy of the role set by [`ServiceAccount::irsa_role_of`].
pub const IRSA_TRUST: &str = ServiceAccountInputs::IRSA_TRUST.name();

const OBJECT: ObjectKind = ObjectKind {
    type_token: TYPE,
    group: "",
    version: "v1",
    kind: "ServiceAccount",
    plural: "serviceaccounts",
    namespaced: true,
    fields: &[(ServiceAccountInputs::AUTOMOUNT.name(), "automountServiceAccountToken")],
    local: &[ServiceAccountInputs::IRSA_TRUST.name()],
};

/// The inputs of a service account.
#[derive(Debug, Clone, Serialize, Deserialize, Schema)]
pub struct ServiceAccountInputs {
    pub name: String,
    pub namespace: String,
    pub labels: Option<StringMap>,
    pub annotations: Option<StringMap>,
    /// `automountServiceAccountToken`.
    pub automount: Option<bool>,
    /// The trust policy of the role the account is annotated with (program-only).
    pub irsa_trust: Option<Json>,
    pub force_conflicts: Option<bool>,
}

pub(crate) struct ServiceAccountKind;

impl Kind for ServiceAccountKind {
    const OBJECT: ObjectKind = OBJECT;
    type Inputs = ServiceAccountInputs;
    const NAME: Field<ServiceAccountInputs, String> = ServiceAccountInputs::NAME;
    const NAMESPACE: Option<Field<ServiceAccountInputs, String>> = Some(ServiceAccountInputs::NAMESPACE);
    const LABELS: Field<ServiceAccountInputs, StringMap> = ServiceAccountInputs::LABELS;
    const ANNOTATIONS: Field<ServiceAccountInputs, StringMap> = ServiceAccountInputs::ANNOTATIONS;

    fn check(_kube: &Kubernetes, c: &mut Check<ServiceAccountInputs>) {
        let (mut failures, mut warnings) = (Vec::new(), Vec::new());
        extra_check(c.inputs().value(), &mut failures);
        extra_warnings(c.inputs().value(), &mut warnings);
        for f in failures {
            c.fail_at(f.property, f.reason);
        }
        for w in warnings {
            c.warn_at(w.property, w.reason);
        }
    }
}

pub(crate) fn extra_check(inputs: &Value, failures: &mut Vec<CheckFailure>) {
    let annotation = |key: &str| inputs.get("annotations").and_then(|a| a.get(key)).and_then(Value::as_str).map(str::to_string);
    if let Some(arn) = annotation(ROLE_ARN) {
        let parts: Vec<&str> = arn.splitn(6, ':').collect();
        let ok = parts.len() == 6
            && parts[0] == "arn"
            && parts[2] == "iam"
            && parts[4].len() == 12
            && parts[4].chars().all(|c| c.is_ascii_digit())
            && parts[5].starts_with("role/");
        if !ok {
            failures.push(CheckFailure::new(
                format!("annotations.{ROLE_ARN}"),
                format!("`{arn}` is not an IAM role ARN (`arn:aws:iam::<12-digit account>:role/<name>`); pass the role's `arn()` output"),
            ));
        }
    }
    if let Some(exp) = annotation(TOKEN_EXPIRATION) {
        match exp.parse::<u32>() {
            Ok(s) if (600..=86400).contains(&s) => {}
            _ => failures.push(CheckFailure::new(
                format!("annotations.{TOKEN_EXPIRATION}"),
                format!("is `{exp}`; the pod identity webhook takes seconds from 600 to 86400"),
            )),
        }
    }
    if let Some(v) = annotation(STS_REGIONAL_ENDPOINTS)
        && v != "true"
        && v != "false"
    {
        failures.push(CheckFailure::new(format!("annotations.{STS_REGIONAL_ENDPOINTS}"), format!("is `{v}`; use \"true\" or \"false\"")));
    }
}

/// Warns when the role the account is annotated with (by [`ServiceAccount::irsa_role_of`]) has a
/// trust policy that does not let this service account assume it: the pods would get
/// `AccessDenied` from `sts:AssumeRoleWithWebIdentity`.
pub(crate) fn extra_warnings(inputs: &Value, warnings: &mut Vec<CheckFailure>) {
    use strake_aws::trust_lint::{SERVICE_ACCOUNT_PREFIX, subject_conditions, trust_names_subject, trusted_issuers};
    let Some(role_arn) = inputs.get("annotations").and_then(|a| a.get(ROLE_ARN)).and_then(Value::as_str) else { return };
    let (Some(namespace), Some(name)) = (inputs.get("namespace").and_then(Value::as_str), inputs.get("name").and_then(Value::as_str)) else {
        return;
    };
    // Unknown at plan time (e.g. the provider's ARN is an output of this apply): nothing to compare.
    let Some(trust) = inputs.get(IRSA_TRUST).and_then(Value::to_plain_json) else { return };
    // A trust policy that does not parse is the role's own check failure.
    let Ok(doc) = strake_aws::policy::parse_document(&trust) else { return };
    let subject = format!("{SERVICE_ACCOUNT_PREFIX}{namespace}:{name}");
    if trust_names_subject(&doc, &subject) {
        return;
    }
    let named: Vec<String> = subject_conditions(&doc).into_iter().map(|c| format!("{} `{}:sub` = `{}`", c.operator, c.issuer, c.value)).collect();
    let named = if named.is_empty() { "no `:sub` condition at all".to_string() } else { named.join(", ") };
    let issuer = trusted_issuers(&doc).into_iter().next().unwrap_or_else(|| "<issuer host/path>".into());
    warnings.push(CheckFailure::new(
        format!("annotations.{ROLE_ARN}"),
        format!(
            "points to `{role_arn}`, whose trust policy does not name this service account: no web-identity statement has a `:sub` \
             condition matching `{subject}` (it has {named}), so its pods would get AccessDenied from sts:AssumeRoleWithWebIdentity; \
             add StringEquals `{issuer}:sub` = `{subject}` to the role's trust policy, or use the service account it names"
        ),
    ));
}

/// A service account. The IRSA helpers annotate it so pods using it get AWS credentials of a role.
#[derive(Clone, ResourceHandle)]
pub struct ServiceAccount {
    resource: Resource,
    namespace: Output<String>,
    annotations: Vec<(String, Output<String>)>,
}

impl ServiceAccount {
    #[track_caller]
    pub fn new(stack: &Stack, name: &str, provider: &ProviderRef, namespace: &Namespace) -> ServiceAccount {
        let resource = stack.resource(TYPE, name).provider(provider);
        resource.set(ServiceAccountInputs::NAME, name);
        let namespace = namespace.name();
        resource.set(ServiceAccountInputs::NAMESPACE, namespace.clone());
        ServiceAccount { resource, namespace, annotations: Vec::new() }
    }

    /// Sets an annotation (values may be outputs).
    pub fn annotation(mut self, key: &str, value: impl Into<Output<String>>) -> Self {
        self.annotations.retain(|(k, _)| k != key);
        self.annotations.push((key.to_string(), value.into()));
        self.resource.set_value(ServiceAccountInputs::ANNOTATIONS, output_map(&self.annotations));
        self
    }

    /// IRSA: pods using this account assume `role_arn` (`eks.amazonaws.com/role-arn`).
    pub fn irsa_role(self, role_arn: impl Into<Output<String>>) -> Self {
        self.annotation(ROLE_ARN, role_arn)
    }

    /// IRSA: pods using this account assume `role`. Sets the role-arn annotation from the role's
    /// ARN and keeps the role's trust policy (program-only, never sent to the cluster) so the plan
    /// warns when that trust does not name this service account.
    pub fn irsa_role_of(self, role: &strake_aws::iam::Role) -> Self {
        self.resource.set_value(ServiceAccountInputs::IRSA_TRUST, role.trust_policy());
        self.irsa_role(role.arn())
    }

    /// IRSA: the token audience (default `sts.amazonaws.com`).
    pub fn audience(self, audience: &str) -> Self {
        self.annotation(AUDIENCE, audience)
    }

    /// IRSA: use the regional STS endpoint.
    pub fn sts_regional_endpoints(self, regional: bool) -> Self {
        self.annotation(STS_REGIONAL_ENDPOINTS, regional.to_string())
    }

    /// IRSA: token lifetime in seconds (600 to 86,400).
    pub fn token_expiration(self, seconds: u32) -> Self {
        self.annotation(TOKEN_EXPIRATION, seconds.to_string())
    }

    pub fn labels<K: Into<String>, V: Into<String>>(self, labels: impl IntoIterator<Item = (K, V)>) -> Self {
        self.resource.set(ServiceAccountInputs::LABELS, string_map(labels));
        self
    }

    pub fn automount(self, automount: bool) -> Self {
        self.resource.set(ServiceAccountInputs::AUTOMOUNT, automount);
        self
    }

    /// Take over fields another field manager owns.
    pub fn force_conflicts(self) -> Self {
        self.resource.set(ServiceAccountInputs::FORCE_CONFLICTS, true);
        self
    }

    pub fn name(&self) -> Output<String> {
        self.resource.get(ObjectOutputs::NAME)
    }

    pub fn namespace(&self) -> Output<String> {
        self.namespace.clone()
    }

    /// The role annotation, if set (Deployments hash it into their pod template).
    pub fn role_arn(&self) -> Option<Output<String>> {
        self.annotations.iter().find(|(k, _)| k == ROLE_ARN).map(|(_, v)| v.clone())
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const ISSUER: &str = "oidc.eks.us-east-1.amazonaws.com/id/ABC";
    const ROLE: &str = "arn:aws:iam::222222222222:role/irsa";

    fn trust(op: &str, sub: &str) -> serde_json::Value {
        json!({"Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Action": "sts:AssumeRoleWithWebIdentity",
            "Principal": {"Federated": format!("arn:aws:iam::222222222222:oidc-provider/{ISSUER}")},
            "Condition": {op: {format!("{ISSUER}:sub"): sub, format!("{ISSUER}:aud"): "sts.amazonaws.com"}}}]})
    }

    fn inputs(name: &str, trust: Option<Value>) -> Value {
        let mut v = Value::from_json(json!({"name": name, "namespace": "apps", "annotations": {ROLE_ARN: ROLE}}));
        v.set_path(IRSA_TRUST, trust);
        v
    }

    fn warnings(inputs: &Value) -> Vec<CheckFailure> {
        let mut w = Vec::new();
        extra_warnings(inputs, &mut w);
        w
    }

    #[test]
    fn warns_when_the_role_does_not_trust_the_account() {
        let named = Value::from_json(trust("StringEquals", "system:serviceaccount:apps:web"));
        let cases: Vec<(&str, Value, bool)> = vec![
            ("named", inputs("web", Some(named.clone())), false),
            ("another name", inputs("api", Some(named.clone())), true),
            ("StringLike match", inputs("web-1", Some(Value::from_json(trust("StringLike", "system:serviceaccount:apps:web-*")))), false),
            ("StringLike miss", inputs("api", Some(Value::from_json(trust("StringLike", "system:serviceaccount:apps:web-*")))), true),
            ("another namespace", inputs("web", Some(Value::from_json(trust("StringEquals", "system:serviceaccount:other:web")))), true),
            (
                "trust given as JSON text",
                inputs("web", Some(Value::from(trust("StringEquals", "system:serviceaccount:apps:web").to_string()))),
                false,
            ),
            (
                "no :sub at all",
                inputs(
                    "web",
                    Some(Value::from_json(json!({"Version": "2012-10-17", "Statement": [{
                "Effect": "Allow", "Action": "sts:AssumeRoleWithWebIdentity",
                "Principal": {"Federated": format!("arn:aws:iam::222222222222:oidc-provider/{ISSUER}")}}]}))),
                ),
                true,
            ),
            ("trust unknown at plan time", inputs("api", Some(Value::Unknown)), false),
            ("trust not recorded (irsa_role)", inputs("api", None), false),
            ("trust not a policy", inputs("api", Some(Value::from("{not json"))), false),
        ];
        for (name, i, warn) in cases {
            let w = warnings(&i);
            assert_eq!(w.len(), usize::from(warn), "{name}: {w:?}");
            if let Some(w) = w.first() {
                assert_eq!(w.property, format!("annotations.{ROLE_ARN}"), "{name}");
                let subject = format!("system:serviceaccount:apps:{}", i.get("name").and_then(Value::as_str).unwrap());
                assert!(w.reason.contains(ROLE) && w.reason.contains("does not name this service account"), "{name}: {}", w.reason);
                assert!(w.reason.contains(&format!("add StringEquals `{ISSUER}:sub` = `{subject}`")), "{name}: {}", w.reason);
            }
        }
        // Without the role annotation there is nothing to compare.
        let mut i = inputs("api", Some(named));
        i.set_path("annotations", None);
        assert!(warnings(&i).is_empty());
    }

    #[test]
    fn the_trust_stays_in_the_program() {
        let desired = inputs("web", Some(Value::from_json(trust("StringEquals", "system:serviceaccount:apps:web"))));
        let body = OBJECT.body(&desired.to_json());
        assert!(!body.to_string().contains(IRSA_TRUST) && !body.to_string().contains("AssumeRoleWithWebIdentity"), "{body}");
        assert_eq!(body["metadata"]["annotations"][ROLE_ARN], ROLE);
        // Read back, the object shows the recorded trust, so a re-plan has no changes.
        let live = json!({"apiVersion": "v1", "kind": "ServiceAccount",
            "metadata": {"name": "web", "namespace": "apps", "uid": "u", "annotations": {ROLE_ARN: ROLE, "other": "x"}}});
        assert_eq!(OBJECT.observed_inputs(Some(&desired.to_json()), &live), desired.to_json());
        // And checking keeps it, with no failure and no warning.
        assert!(warnings(&desired).is_empty());
        let mut failures = Vec::new();
        extra_check(&desired, &mut failures);
        assert!(failures.is_empty(), "{failures:?}");
    }
}
