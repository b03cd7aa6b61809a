//! `kubernetes:core:ServiceAccount`, with IRSA helpers (`eks.amazonaws.com/*` annotations).

use strake::provider::CheckFailure;
use strake::{Output, ProviderRef, Resource, ResourceHandle, Stack, Value};

use super::Object;
use super::namespace::Namespace;

pub const TYPE: &str = "kubernetes:core:ServiceAccount";

pub const ROLE_ARN: &str = "eks.amazonaws.com/role-arn";
pub const AUDIENCE: &str = "eks.amazonaws.com/audience";
pub const STS_REGIONAL_ENDPOINTS: &str = "eks.amazonaws.com/sts-regional-endpoints";
pub const TOKEN_EXPIRATION: &str = "eks.amazonaws.com/token-expiration";

pub(crate) static SERVICE_ACCOUNT: Object = Object {
    group: "",
    version: "v1",
    kind: "ServiceAccount",
    plural: "serviceaccounts",
    namespaced: true,
    fields: &[("automount", "automountServiceAccountToken")],
    local: &[],
    extra_check,
};

fn extra_check(inputs: &Value, failures: &mut Vec<CheckFailure>) {
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

/// A service account. The IRSA helpers annotate it so pods using it get AWS credentials of a role.
#[derive(Clone)]
pub struct ServiceAccount {
    resource: Resource,
    namespace: Output<String>,
    annotations: Vec<(String, Output<String>)>,
}

impl ServiceAccount {
    #[track_caller]
    pub fn new(stack: &Stack, name: &str, provider: &ProviderRef, namespace: &Namespace) -> ServiceAccount {
        let resource = stack.resource(TYPE, name).provider(provider);
        resource.set_input("name", name);
        let namespace = namespace.name();
        resource.set_input("namespace", namespace.clone());
        ServiceAccount { resource, namespace, annotations: Vec::new() }
    }

    /// Sets an annotation (values may be outputs).
    pub fn annotation(mut self, key: &str, value: impl Into<Output<String>>) -> Self {
        self.annotations.retain(|(k, _)| k != key);
        self.annotations.push((key.to_string(), value.into()));
        let pairs: Vec<Output<(String, String)>> =
            self.annotations.iter().map(|(k, v)| { let k = k.clone(); v.map(move |v| (k.clone(), v)) }).collect();
        self.resource.set_input("annotations", Output::all(pairs).map(|p| Value::Map(p.into_iter().map(|(k, v)| (k, Value::String(v))).collect())));
        self
    }

    /// IRSA: pods using this account assume `role_arn` (`eks.amazonaws.com/role-arn`).
    pub fn irsa_role(self, role_arn: impl Into<Output<String>>) -> Self {
        self.annotation(ROLE_ARN, role_arn)
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
        self.resource.set_input("labels", super::string_map(labels));
        self
    }

    pub fn automount(self, automount: bool) -> Self {
        self.resource.set_input("automount", Value::from(automount));
        self
    }

    /// Take over fields another field manager owns.
    pub fn force_conflicts(self) -> Self {
        self.resource.set_input("force_conflicts", Value::from(true));
        self
    }

    pub fn name(&self) -> Output<String> {
        self.resource.output_string("name")
    }

    pub fn namespace(&self) -> Output<String> {
        self.namespace.clone()
    }

    /// The role annotation, if set (Deployments hash it into their pod template).
    pub fn role_arn(&self) -> Option<Output<String>> {
        self.annotations.iter().find(|(k, _)| k == ROLE_ARN).map(|(_, v)| v.clone())
    }
}

impl ResourceHandle for ServiceAccount {
    fn resource(&self) -> &Resource {
        &self.resource
    }
}
