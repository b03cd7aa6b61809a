//! A service account bound to an AWS role, with the role's trust checked against it at plan time.

use strake::{Output, ResourceHandle as _, Value};
use strake_aws::iam::Role;
use strake_aws::trust_lint::service_account_refusal;
use strake_kubernetes::ServiceAccount;

/// `ServiceAccount::irsa_role_of`, with this trait in scope.
pub trait IrsaRoleOf {
    /// IRSA: pods using this account assume `role`. Sets the role-arn annotation from the role's
    /// ARN, and the plan warns when the role's trust policy does not name this service account.
    fn irsa_role_of(self, role: &Role) -> Self;
}

impl IrsaRoleOf for ServiceAccount {
    fn irsa_role_of(self, role: &Role) -> Self {
        let name = self.urn().name().to_string();
        let refusal: Output<Value> = role.trust_policy().zip(&self.namespace()).map(move |(trust, namespace)| {
            let refusal = trust.to_plain_json().and_then(|trust| service_account_refusal(&trust, &namespace, &name));
            refusal.map(Value::from).unwrap_or(Value::Null)
        });
        self.irsa_role_with_refusal(role.arn(), refusal)
    }
}
