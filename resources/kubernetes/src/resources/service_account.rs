//! `kubernetes:core:ServiceAccount`, with IRSA helpers (`eks.amazonaws.com/*` annotations).

use serde::{Deserialize, Serialize};
use strake::provider::CheckFailure;
use strake::typed::*;
use strake::{Output, ProviderRef, Resource, ResourceHandle, Stack, Value};

use super::namespace::Namespace;
use super::{Kind, ObjectKind, ObjectOutputs, StringMap, output_map};
use crate::provider::Kubernetes;

/// The type token of a service account.
pub const TYPE: &str = "kubernetes:core:ServiceAccount";

/// IRSA annotation: the IAM role the account's pods assume.
pub const ROLE_ARN: &str = "eks.amazonaws.com/role-arn";
/// IRSA annotation: the token audience (default `sts.amazonaws.com`).
pub const AUDIENCE: &str = "eks.amazonaws.com/audience";
/// IRSA annotation: whether pods use the regional STS endpoint (`true` or `false`).
pub const STS_REGIONAL_ENDPOINTS: &str = "eks.amazonaws.com/sts-regional-endpoints";
/// IRSA annotation: the projected token's lifetime in seconds (600 to 86,400).
pub const TOKEN_EXPIRATION: &str = "eks.amazonaws.com/token-expiration";
/// Program-only input: why the trust of the account's role refuses it (see
/// [`ServiceAccount::irsa_role_with_refusal`]).
pub const IRSA_REFUSAL: &str = ServiceAccountInputs::IRSA_REFUSAL.name();

const OBJECT: ObjectKind = ObjectKind {
    type_token: TYPE,
    group: "",
    version: "v1",
    kind: "ServiceAccount",
    plural: "serviceaccounts",
    namespaced: true,
    fields: &[(ServiceAccountInputs::AUTOMOUNT.name(), "automountServiceAccountToken")],
};

/// The inputs of a service account.
#[derive(Debug, Clone, Serialize, Deserialize, Schema)]
#[strake(handle = ServiceAccount)]
pub struct ServiceAccountInputs {
    /// The account's name.
    #[strake(replace_on)]
    pub name: String,
    /// The namespace it lives in.
    #[strake(replace_on)]
    pub namespace: String,
    /// The account's labels.
    #[strake(set, pairs)]
    pub labels: Option<StringMap>,
    /// The account's annotations (the IRSA ones among them).
    pub annotations: Option<StringMap>,
    /// Whether pods mount the account's token automatically (`automountServiceAccountToken`).
    #[strake(set)]
    pub automount: Option<bool>,
    /// Why the trust policy of the role the account is annotated with refuses it (program-only).
    #[strake(internal)]
    pub irsa_refusal: Option<String>,
    /// Take over fields another field manager owns.
    pub force_conflicts: Option<bool>,
}

pub(crate) struct ServiceAccountKind;

impl Kind for ServiceAccountKind {
    const OBJECT: ObjectKind = OBJECT;
    type Inputs = ServiceAccountInputs;

    fn check(_kube: &Kubernetes, c: &mut Check<ServiceAccountInputs>) {
        let mut failures = Vec::new();
        extra_check(c.inputs(), &mut failures);
        for f in failures {
            c.fail_at(f.property, f.reason);
        }
        if let Some(w) = refusal_warning(c.inputs()) {
            c.warn_at(w.property, w.reason);
        }
    }
}

fn extra_check(inputs: &Partial<ServiceAccountInputs>, failures: &mut Vec<CheckFailure>) {
    let annotations = inputs.raw(ServiceAccountInputs::ANNOTATIONS.name());
    let annotation = |key: &str| annotations.and_then(|a| a.get(key)).and_then(Value::as_str).map(str::to_string);
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

/// Warns when the trust policy of the role the account is annotated with refuses it (as
/// [`ServiceAccount::irsa_role_with_refusal`] was told): its pods would get `AccessDenied` from
/// `sts:AssumeRoleWithWebIdentity`.
fn refusal_warning(inputs: &Partial<ServiceAccountInputs>) -> Option<CheckFailure> {
    let role_arn = inputs.raw(ServiceAccountInputs::ANNOTATIONS.name())?.get(ROLE_ARN)?.as_str()?;
    let refusal = inputs.known(ServiceAccountInputs::IRSA_REFUSAL)?;
    Some(CheckFailure::new(format!("annotations.{ROLE_ARN}"), format!("points to `{role_arn}`, {refusal}")))
}

/// A service account. The IRSA helpers annotate it so pods using it get AWS credentials of a role.
#[derive(Clone, ResourceHandle)]
pub struct ServiceAccount {
    resource: Resource,
    namespace: Output<String>,
    annotations: Vec<(String, Output<String>)>,
}

impl ServiceAccount {
    /// Declares a service account named `name` in `namespace`.
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

    /// IRSA: pods using this account assume `role_arn`, whose trust policy refuses this account
    /// for the reason `refusal` gives (a sentence that follows "the role"), or not at all (null).
    /// The plan warns with it. The reason stays in the program; the cluster never sees it.
    /// `strake_irsa`'s `irsa_role_of` works it out from an AWS role.
    pub fn irsa_role_with_refusal(self, role_arn: impl Into<Output<String>>, refusal: impl Into<Output<Value>>) -> Self {
        self.resource.set_value(ServiceAccountInputs::IRSA_REFUSAL, refusal);
        self.irsa_role(role_arn)
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

    /// Take over fields another field manager owns.
    pub fn force_conflicts(self) -> Self {
        self.resource.set(ServiceAccountInputs::FORCE_CONFLICTS, true);
        self
    }

    /// The account's name (an output, so users depend on the account).
    pub fn name(&self) -> Output<String> {
        self.resource.get(ObjectOutputs::NAME)
    }

    /// The account's namespace (the namespace's name output).
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

    const ROLE: &str = "arn:aws:iam::222222222222:role/irsa";
    const REFUSAL: &str = "whose trust policy does not name this service account";

    fn inputs(name: &str, refusal: Option<Value>) -> Value {
        let mut v = Value::from_json(json!({"name": name, "namespace": "apps", "annotations": {ROLE_ARN: ROLE}}));
        v.set_path(IRSA_REFUSAL, refusal);
        v
    }

    fn warnings(inputs: &Value) -> Vec<CheckFailure> {
        refusal_warning(&Partial::from_value(inputs.clone())).into_iter().collect()
    }

    #[test]
    fn warns_when_the_role_refuses_the_account() {
        let w = warnings(&inputs("api", Some(Value::from(REFUSAL))));
        assert_eq!(w.len(), 1, "{w:?}");
        assert_eq!(w[0].property, format!("annotations.{ROLE_ARN}"));
        assert_eq!(w[0].reason, format!("points to `{ROLE}`, {REFUSAL}"));
        for (case, refusal) in [("trusted", Some(Value::Null)), ("unknown at plan time", Some(Value::Unknown)), ("not told (irsa_role)", None)] {
            assert!(warnings(&inputs("api", refusal)).is_empty(), "{case}");
        }
        // Without the role annotation there is nothing to warn of.
        let mut i = inputs("api", Some(Value::from(REFUSAL)));
        i.set_path("annotations", None);
        assert!(warnings(&i).is_empty());
    }

    #[test]
    fn the_refusal_stays_in_the_program() {
        let desired = inputs("web", Some(Value::from(REFUSAL)));
        let body = OBJECT.body(&desired.to_json());
        assert!(!body.to_string().contains(IRSA_REFUSAL) && !body.to_string().contains(REFUSAL), "{body}");
        assert_eq!(body["metadata"]["annotations"][ROLE_ARN], ROLE);
        // Read back, the object shows the recorded reason, so a re-plan has no changes.
        let live = json!({"apiVersion": "v1", "kind": "ServiceAccount",
            "metadata": {"name": "web", "namespace": "apps", "uid": "u", "annotations": {ROLE_ARN: ROLE, "other": "x"}}});
        assert_eq!(OBJECT.observed_inputs(Some(&desired.to_json()), &live, ServiceAccountInputs::RULES.internal), desired.to_json());
        // And checking finds no failure.
        let mut failures = Vec::new();
        extra_check(&Partial::from_value(desired.clone()), &mut failures);
        assert!(failures.is_empty(), "{failures:?}");
    }
}
