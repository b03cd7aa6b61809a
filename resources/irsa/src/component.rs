//! IRSA as one component: the IAM OIDC provider for the cluster's issuer (or an existing one),
//! a role trusting exactly one service account, the permissions granted to it, the attachment,
//! and the Kubernetes ServiceAccount annotated with the role. The values that must agree (the
//! issuer in the provider and in the condition keys, the service account in the trust and in the
//! cluster, the role ARN in the annotation) each come from one typed value, never retyped.
//!
//! The cluster and the role may be in different accounts (cross-account IRSA) or in the same one
//! (what `eksctl create iamserviceaccount` does): pass the AWS provider of the account that holds
//! the role.

use strake::{Output, ProviderRef, ResourceHandle, Stack};
use strake_aws::iam::{OpenIdConnectProvider, Policy, Role, RolePolicyAttachment};
use strake_aws::{PolicyDocument, Statement};
use strake_kubernetes::{Namespace, ServiceAccount};

/// The type token of the component (the plan groups its children under it).
pub const COMPONENT_TYPE: &str = "strake:irsa:ServiceAccountRole";
/// The audience the pod identity webhook requests tokens for.
pub const AUDIENCE: &str = strake_aws::trust_lint::STS_AUDIENCE;

/// Where the IAM OIDC provider for the cluster's issuer comes from.
pub enum OidcProvider {
    /// Create it in the role's account from the cluster's issuer URL (e.g. `eks::Cluster::oidc_issuer_url()`).
    Create {
        /// The cluster's OIDC issuer URL (`https://...`).
        issuer_url: Output<String>,
    },
    /// Use one that exists already (e.g. made by eksctl): its ARN and the issuer URL it is for.
    Existing {
        /// The existing provider's ARN.
        arn: Output<String>,
        /// The issuer URL the provider is for.
        issuer_url: Output<String>,
    },
}

/// What the component needs.
pub struct IrsaArgs<'a> {
    /// The AWS provider of the account that holds the role (and the OIDC provider).
    pub role_account: &'a ProviderRef,
    /// The Kubernetes provider of the cluster.
    pub cluster: &'a ProviderRef,
    /// Where the IAM OIDC provider for the cluster's issuer comes from.
    pub oidc: OidcProvider,
    /// The namespace of the service account.
    pub namespace: &'a Namespace,
    /// The service account's name; it is both the trust's `sub` and the Kubernetes object.
    pub service_account: &'a str,
    /// What the role may do.
    pub grants: Vec<Statement>,
}

/// The component's parts, for outputs and further wiring (e.g. a Deployment's service account).
pub struct Irsa {
    /// The IAM OIDC provider's ARN (created or existing).
    pub oidc_provider_arn: Output<String>,
    /// The role the service account's pods assume.
    pub role: Role,
    /// The managed policy with the grants.
    pub policy: Policy,
    /// The attachment of the policy to the role.
    pub attachment: RolePolicyAttachment,
    /// The ServiceAccount annotated with the role; applied after the attachment.
    pub service_account: ServiceAccount,
}

impl Irsa {
    /// Declares the component `name` and its parts in the role's account and in the cluster.
    #[track_caller]
    pub fn new(stack: &Stack, name: &str, args: IrsaArgs<'_>) -> Irsa {
        let c = stack.component(COMPONENT_TYPE, name);
        let (oidc_provider_arn, issuer) = match args.oidc {
            OidcProvider::Create { issuer_url } => {
                let p = OpenIdConnectProvider::new(&c, &format!("{name}-oidc"), args.role_account, issuer_url).client_ids([AUDIENCE]);
                (p.arn(), p.issuer())
            }
            OidcProvider::Existing { arn, issuer_url } => (arn, issuer_url.map(|u| host_path(&u))),
        };
        let trust = web_identity_trust(oidc_provider_arn.clone(), issuer, args.namespace.name(), args.service_account);
        let role = Role::new(&c, &format!("{name}-role"), args.role_account, trust);
        let document = args.grants.into_iter().fold(PolicyDocument::new(), PolicyDocument::statement);
        let policy = Policy::new(&c, &format!("{name}-policy"), args.role_account, document);
        let attachment = RolePolicyAttachment::new(&c, &format!("{name}-attachment"), args.role_account, role.name(), policy.arn());
        let service_account =
            ServiceAccount::new(&c, args.service_account, args.cluster, args.namespace).irsa_role(role.arn()).depends_on(&attachment);
        Irsa { oidc_provider_arn, role, policy, attachment, service_account }
    }
}

/// The issuer without its scheme: what IAM condition keys start with.
pub fn host_path(issuer_url: &str) -> String {
    issuer_url.trim_start_matches("https://").trim_end_matches('/').to_string()
}

/// The trust policy of an IRSA role: `sts:AssumeRoleWithWebIdentity` from the OIDC provider,
/// only for `system:serviceaccount:<namespace>:<service_account>` and the STS audience.
pub fn web_identity_trust(
    oidc_provider_arn: Output<String>,
    issuer_host_path: Output<String>,
    namespace: Output<String>,
    service_account: &str,
) -> PolicyDocument {
    let sa = service_account.to_string();
    let subject = namespace.map(move |ns| format!("system:serviceaccount:{ns}:{sa}"));
    PolicyDocument::new().statement(
        Statement::allow()
            .actions(["sts:AssumeRoleWithWebIdentity"])
            .federated(oidc_provider_arn)
            .condition("StringEquals", issuer_host_path.map(|i| format!("{i}:sub")), [subject])
            .condition("StringEquals", issuer_host_path.map(|i| format!("{i}:aud")), [AUDIENCE]),
    )
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use strake::{Urn, Value};

    use super::*;

    #[test]
    fn the_trust_names_one_service_account_and_the_audience() {
        let oidc = Urn::new("s", "aws:iam:OpenIdConnectProvider", "oidc");
        let ns = Urn::new("s", "kubernetes:core:Namespace", "apps");
        let doc = web_identity_trust(
            Output::property(&oidc, "arn").typed(),
            Output::property(&oidc, "issuer").typed(),
            Output::property(&ns, "name").typed(),
            "s3-sa",
        );
        let env = BTreeMap::from([
            (
                oidc,
                strake::value!({"arn": "arn:aws:iam::222222222222:oidc-provider/oidc.eks.us-east-1.amazonaws.com/id/X", "issuer": "oidc.eks.us-east-1.amazonaws.com/id/X"}),
            ),
            (ns, strake::value!({"name": "apps"})),
        ]);
        let v = doc.to_output().resolve(&env).unwrap().value.unwrap().to_plain_json().unwrap();
        let st = &v["Statement"][0];
        assert_eq!(st["Action"][0], "sts:AssumeRoleWithWebIdentity");
        assert_eq!(st["Principal"]["Federated"][0], "arn:aws:iam::222222222222:oidc-provider/oidc.eks.us-east-1.amazonaws.com/id/X");
        assert_eq!(st["Condition"]["StringEquals"]["oidc.eks.us-east-1.amazonaws.com/id/X:sub"][0], "system:serviceaccount:apps:s3-sa");
        assert_eq!(st["Condition"]["StringEquals"]["oidc.eks.us-east-1.amazonaws.com/id/X:aud"][0], "sts.amazonaws.com");
        let _ = Value::Null;
    }

    #[test]
    fn host_path_drops_the_scheme_and_trailing_slash() {
        assert_eq!(host_path("https://oidc.eks.us-east-1.amazonaws.com/id/X/"), "oidc.eks.us-east-1.amazonaws.com/id/X");
    }
}
