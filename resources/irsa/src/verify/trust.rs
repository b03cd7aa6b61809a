//! The `trust` link's question: may the token's web identity call `sts:AssumeRoleWithWebIdentity`
//! on the role? Real STS enforces the trust policy; emulators such as moto do not, so `verify`
//! evaluates it with strake-access ([`strake_access::evaluate`]), against the keys STS sets from
//! the token: `<issuer>:sub`, `<issuer>:aud` and `sts:RoleSessionName`. The context is complete:
//! a condition on any other key sees the key absent, as STS does.

use strake_access::{Evaluation, Policies, Policy, Principal, Request, evaluate as evaluate_request};

/// The action a pod's SDK calls with its projected token.
pub const ACTION: &str = "sts:AssumeRoleWithWebIdentity";

/// What STS knows when the token is presented.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebIdentityRequest {
    /// The role to assume, `arn:<partition>:iam::<account>:role/<name>`.
    pub role_arn: String,
    /// `arn:<partition>:iam::<account>:oidc-provider/<issuer host/path>`, in the role's account.
    pub provider_arn: String,
    /// The issuer without `https://`: the condition keys' prefix.
    pub issuer: String,
    /// The token's `sub`.
    pub sub: String,
    /// The token's audience that the OIDC provider lists as a client id.
    pub aud: String,
    /// The role session name (`sts:RoleSessionName`).
    pub session_name: String,
}

impl WebIdentityRequest {
    /// The caller: the web identity of the provider.
    pub fn principal(&self) -> Principal {
        Principal::WebIdentity { provider: self.provider_arn.clone() }
    }

    /// The request STS evaluates the trust policy for, its context complete.
    pub fn request(&self) -> Request {
        Request::new(self.principal(), ACTION, &self.role_arn)
            .context(format!("{}:sub", self.issuer), [&self.sub])
            .context(format!("{}:aud", self.issuer), [&self.aud])
            .context("sts:RoleSessionName", [&self.session_name])
            .complete()
    }
}

/// The name a role's trust policy is shown by in explanations: `trust of role <name>`.
pub fn policy_name(role_name: &str) -> String {
    format!("trust of role {role_name}")
}

/// Evaluates a role's trust policy for `request`.
pub fn evaluate(trust: &Policy, request: &WebIdentityRequest) -> Evaluation {
    evaluate_request(&request.request(), &Policies { resource: Some(trust), ..Policies::default() })
}

#[cfg(test)]
mod tests {
    use serde_json::{Value as Json, json};
    use strake_access::Decision;

    use super::*;
    use crate::verify::evaluation::refusal;

    const ISSUER: &str = "oidc.eks.us-east-1.amazonaws.com/id/ABC";
    const PROVIDER: &str = "arn:aws:iam::222222222222:oidc-provider/oidc.eks.us-east-1.amazonaws.com/id/ABC";
    const SUB: &str = "system:serviceaccount:apps:reader";

    fn request() -> WebIdentityRequest {
        WebIdentityRequest {
            role_arn: "arn:aws:iam::222222222222:role/s3".into(),
            provider_arn: PROVIDER.into(),
            issuer: ISSUER.into(),
            sub: SUB.into(),
            aud: "sts.amazonaws.com".into(),
            session_name: "botocore-session-1".into(),
        }
    }

    fn trust(provider: &str, conditions: Json) -> Policy {
        let doc = json!({"Version": "2012-10-17", "Statement": [{
            "Effect": "Allow",
            "Principal": {"Federated": provider},
            "Action": "sts:AssumeRoleWithWebIdentity",
            "Condition": conditions,
        }]});
        Policy::parse(policy_name("s3"), &doc).unwrap()
    }

    fn irsa(sub: &str, aud: &str) -> Policy {
        trust(PROVIDER, json!({"StringEquals": {format!("{ISSUER}:sub"): sub, format!("{ISSUER}:aud"): aud}}))
    }

    /// The refusal message, which must name the statement.
    fn refused(policy: &Policy) -> String {
        let e = evaluate(policy, &request());
        let message = refusal(&e, Some(policy), &request().request()).unwrap_or_else(|| panic!("allowed: {:#?}", e.explanation));
        assert!(message.contains("trust of role s3 Statement[0]"), "{message}");
        message
    }

    #[test]
    fn the_eks_trust_policy_allows_its_service_account() {
        let e = evaluate(&irsa(SUB, "sts.amazonaws.com"), &request());
        assert_eq!(e.decision, Decision::Allowed, "{:#?}", e.explanation);
        assert_eq!(e.reason(), None);
        assert_eq!(e.explanation.last().unwrap(), "allowed by trust of role s3 Statement[0]");
        let text = e.explanation.join("\n");
        assert!(text.contains(&format!("request: web identity {PROVIDER} calls {ACTION} on arn:aws:iam::222222222222:role/s3")), "{text}");
        assert!(text.contains(&format!("StringEquals \"{ISSUER}:sub\" is [\"{SUB}\"], the request has [\"{SUB}\"]: holds")), "{text}");
    }

    #[test]
    fn another_service_account_in_sub_names_both_sides() {
        let message = refused(&irsa("system:serviceaccount:apps:writer", "sts.amazonaws.com"));
        assert!(
            message.contains(&format!("StringEquals \"{ISSUER}:sub\" is [\"system:serviceaccount:apps:writer\"], the request has [\"{SUB}\"]")),
            "{message}"
        );
        assert!(message.contains("the service account is reader in the request and writer in the policy"), "{message}");
    }

    #[test]
    fn swapped_aud_and_sub_are_called_so() {
        let message = refused(&irsa("sts.amazonaws.com", SUB));
        assert!(message.contains("are aud and sub swapped?"), "{message}");
    }

    #[test]
    fn a_wildcard_under_string_equals_is_literal() {
        let message = refused(&irsa("system:serviceaccount:apps:*", "sts.amazonaws.com"));
        assert!(message.contains("StringEquals compares literally") && message.contains("StringLike"), "{message}");
        let like = trust(PROVIDER, json!({"StringLike": {format!("{ISSUER}:sub"): "system:serviceaccount:apps:*"}}));
        assert!(evaluate(&like, &request()).is_allowed());
    }

    #[test]
    fn a_provider_in_another_account_is_named_with_both_accounts() {
        let message = refused(&trust("arn:aws:iam::111111111111:oidc-provider/oidc.eks.us-east-1.amazonaws.com/id/ABC", json!({})));
        assert!(message.contains("arn:aws:iam::111111111111:oidc-provider/") && message.contains(PROVIDER), "{message}");
        assert!(message.contains("in account 111111111111, but the caller's is in account 222222222222"), "{message}");
    }

    #[test]
    fn the_session_name_is_in_the_context_and_other_keys_are_absent() {
        let named = trust(PROVIDER, json!({"StringLike": {"sts:RoleSessionName": "botocore-session-*"}}));
        assert!(evaluate(&named, &request()).is_allowed());
        // A key of another issuer is absent: StringEquals fails, StringEqualsIfExists holds.
        let other = "oidc.eks.eu-west-1.amazonaws.com/id/XYZ:sub";
        assert_eq!(evaluate(&trust(PROVIDER, json!({"StringEquals": {other: "x"}})), &request()).decision, Decision::ImplicitDeny);
        assert!(evaluate(&trust(PROVIDER, json!({"StringEqualsIfExists": {other: "x"}})), &request()).is_allowed());
    }
}
