//! Who asks for what: the principal, the request and the condition keys they carry.

use std::collections::BTreeMap;
use std::fmt;

/// Who makes the request.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Principal {
    /// A role (`arn:<partition>:iam::<account>:role/<path><name>`); its sessions (`arn:aws:sts::<account>:assumed-role/<name>/<session>`) are the same principal.
    Role {
        /// The role's ARN (a session ARN is accepted too).
        arn: String,
    },
    /// An IAM user.
    User {
        /// The user's ARN.
        arn: String,
    },
    /// An account's root: all of the account's own rights in its account.
    Account {
        /// The 12-digit account id.
        id: String,
    },
    /// An AWS service ("ec2.amazonaws.com").
    Service {
        /// The service principal name.
        name: String,
    },
    /// A web identity through a federated provider (an OIDC provider ARN).
    WebIdentity {
        /// The provider as a trust policy's `Federated` names it.
        provider: String,
    },
    /// No credentials.
    Anonymous,
}

/// A role ARN or role session ARN taken apart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RoleParts<'a> {
    pub partition: &'a str,
    pub account: &'a str,
    /// `path/name` for a role ARN (without the leading `role/`), the name alone for a session.
    pub path_and_name: &'a str,
    /// The role's name.
    pub name: &'a str,
    /// Whether this came from an `assumed-role` session ARN.
    pub session: bool,
}

/// Takes apart `arn:P:iam::A:role/path/name` or `arn:P:sts::A:assumed-role/name/session`.
pub(crate) fn role_parts(arn: &str) -> Option<RoleParts<'_>> {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let [prefix, partition, service, _region, account, resource] = parts[..] else {
        return None;
    };
    if prefix != "arn" {
        return None;
    }
    if service == "iam" {
        let path_and_name = resource.strip_prefix("role/")?;
        let name = path_and_name.rsplit('/').next()?;
        return Some(RoleParts { partition, account, path_and_name, name, session: false });
    }
    if service == "sts" {
        let (name, _session) = resource.strip_prefix("assumed-role/")?.split_once('/')?;
        return Some(RoleParts { partition, account, path_and_name: name, name, session: true });
    }
    None
}

/// The account field of an ARN, if it has a non-empty one.
pub(crate) fn arn_account(arn: &str) -> Option<&str> {
    let mut parts = arn.splitn(6, ':');
    if parts.next() != Some("arn") {
        return None;
    }
    parts.nth(3).filter(|account| !account.is_empty())
}

impl Principal {
    /// The account the principal belongs to (None for services, web identities and anonymous callers).
    pub fn account(&self) -> Option<&str> {
        match self {
            Principal::Role { arn } | Principal::User { arn } => arn_account(arn),
            Principal::Account { id } => Some(id),
            Principal::Service { .. } | Principal::WebIdentity { .. } | Principal::Anonymous => None,
        }
    }

    /// ARN-like id used for aws:PrincipalArn: the role's ARN (also for a session), the user's ARN,
    /// or `arn:aws:iam::<id>:root` for an account; None for the other kinds.
    pub fn arn(&self) -> Option<String> {
        match self {
            Principal::Role { arn } => match role_parts(arn) {
                Some(parts) if parts.session => Some(format!("arn:{}:iam::{}:role/{}", parts.partition, parts.account, parts.name)),
                _ => Some(arn.clone()),
            },
            Principal::User { arn } => Some(arn.clone()),
            Principal::Account { id } => Some(format!("arn:aws:iam::{id}:root")),
            Principal::Service { .. } | Principal::WebIdentity { .. } | Principal::Anonymous => None,
        }
    }

    /// The value of aws:PrincipalType this crate uses for the principal.
    pub fn principal_type(&self) -> &'static str {
        match self {
            Principal::Role { .. } => "AssumedRole",
            Principal::User { .. } => "User",
            Principal::Account { .. } => "Account",
            Principal::Service { .. } => "AWSService",
            Principal::WebIdentity { .. } => "WebIdentityUser",
            Principal::Anonymous => "Anonymous",
        }
    }

    /// A condition key the principal itself answers: Some(value or absent) for those keys, None for others.
    fn derived_key(&self, key: &str) -> Option<Option<String>> {
        let value = match key.to_ascii_lowercase().as_str() {
            "aws:principalarn" => self.arn(),
            "aws:principalaccount" => self.account().map(str::to_string),
            "aws:principaltype" => Some(self.principal_type().to_string()),
            "aws:principalservicename" => match self {
                Principal::Service { name } => Some(name.clone()),
                _ => None,
            },
            "aws:principalisawsservice" => Some(matches!(self, Principal::Service { .. }).to_string()),
            "aws:username" => match self {
                Principal::User { arn } => arn.rsplit('/').next().map(str::to_string),
                _ => None,
            },
            _ => return None,
        };
        Some(value)
    }
}

impl fmt::Display for Principal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Principal::Role { arn } => write!(f, "role {arn}"),
            Principal::User { arn } => write!(f, "user {arn}"),
            Principal::Account { id } => write!(f, "account {id} (root)"),
            Principal::Service { name } => write!(f, "service {name}"),
            Principal::WebIdentity { provider } => write!(f, "web identity {provider}"),
            Principal::Anonymous => write!(f, "anonymous caller"),
        }
    }
}

/// A request to evaluate: a principal calling an action on a resource.
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    /// Who calls.
    pub principal: Principal,
    /// The action, e.g. "s3:GetObject".
    pub action: String,
    /// The resource ARN, e.g. "arn:aws:s3:::bucket/key" or "arn:aws:iam::222222222222:role/s3".
    pub resource: String,
    /// The account that owns the resource. None: taken from the ARN's account field; when the ARN has none (S3), the principal's account, and the explanation says it assumed so.
    pub resource_account: Option<String>,
    /// Condition keys (matched case-insensitively) → values.
    pub context: BTreeMap<String, Vec<String>>,
    /// true: a key absent from `context` is absent from the request, and AWS's rules for absent keys apply. false: an absent key is unknown, and a condition on it makes the answer Conditional.
    pub context_complete: bool,
}

/// What the request says about a condition key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Lookup {
    /// The key is present with these values (never empty).
    Values(Vec<String>),
    /// The key is definitely absent.
    Absent,
    /// Nobody knows yet.
    Unknown,
}

impl Request {
    /// A request with an empty context that is not complete (absent keys are unknown).
    pub fn new(principal: Principal, action: impl Into<String>, resource: impl Into<String>) -> Request {
        Request {
            principal,
            action: action.into(),
            resource: resource.into(),
            resource_account: None,
            context: BTreeMap::new(),
            context_complete: false,
        }
    }

    /// Sets the account that owns the resource.
    pub fn resource_account(self, account: impl Into<String>) -> Request {
        Request { resource_account: Some(account.into()), ..self }
    }

    /// Sets a condition key's values.
    pub fn context(mut self, key: impl Into<String>, values: impl IntoIterator<Item = impl Into<String>>) -> Request {
        self.context.insert(key.into(), values.into_iter().map(Into::into).collect());
        self
    }

    /// Marks the context complete: keys not in it are absent from the request.
    pub fn complete(self) -> Request {
        Request { context_complete: true, ..self }
    }

    /// A condition key's values: from the context (case-insensitively), else from the principal, else
    /// absent or unknown as `context_complete` says. A key given with no values counts as absent.
    pub(crate) fn lookup(&self, key: &str) -> Lookup {
        if let Some((_, values)) = self.context.iter().find(|(k, _)| k.eq_ignore_ascii_case(key)) {
            return if values.is_empty() { Lookup::Absent } else { Lookup::Values(values.clone()) };
        }
        match self.principal.derived_key(key) {
            Some(Some(value)) => Lookup::Values(vec![value]),
            Some(None) => Lookup::Absent,
            None if self.context_complete => Lookup::Absent,
            None => Lookup::Unknown,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn role() -> Principal {
        Principal::Role { arn: "arn:aws:iam::111111111111:role/team/app".into() }
    }

    #[test]
    fn role_arns_and_sessions_come_apart() {
        let parts = role_parts("arn:aws:iam::111111111111:role/team/app").unwrap();
        assert_eq!((parts.account, parts.path_and_name, parts.name, parts.session), ("111111111111", "team/app", "app", false));
        let parts = role_parts("arn:aws-cn:sts::111111111111:assumed-role/app/i-0abc").unwrap();
        assert_eq!((parts.partition, parts.name, parts.session), ("aws-cn", "app", true));
        assert_eq!(role_parts("arn:aws:iam::111111111111:user/app"), None);
        assert_eq!(role_parts("111111111111"), None);
    }

    #[test]
    fn accounts_and_arns() {
        assert_eq!(role().account(), Some("111111111111"));
        assert_eq!(Principal::Account { id: "222222222222".into() }.arn().as_deref(), Some("arn:aws:iam::222222222222:root"));
        let session = Principal::Role { arn: "arn:aws:sts::111111111111:assumed-role/app/s".into() };
        assert_eq!(session.arn().as_deref(), Some("arn:aws:iam::111111111111:role/app"));
        assert_eq!(Principal::Service { name: "ec2.amazonaws.com".into() }.account(), None);
        assert_eq!(arn_account("arn:aws:s3:::bucket/key"), None);
        assert_eq!(arn_account("arn:aws:iam::222222222222:role/s3"), Some("222222222222"));
    }

    #[test]
    fn lookup_prefers_context_then_principal_then_completeness() {
        let request = Request::new(role(), "s3:GetObject", "arn:aws:s3:::b/k").context("AWS:SourceVpc", ["vpc-1"]);
        assert_eq!(request.lookup("aws:sourcevpc"), Lookup::Values(vec!["vpc-1".into()]));
        assert_eq!(request.lookup("aws:PrincipalAccount"), Lookup::Values(vec!["111111111111".into()]));
        assert_eq!(request.lookup("aws:PrincipalType"), Lookup::Values(vec!["AssumedRole".into()]));
        // Known from the principal: a role has no service name and no user name, whatever the context says.
        assert_eq!(request.lookup("aws:PrincipalServiceName"), Lookup::Absent);
        assert_eq!(request.lookup("aws:username"), Lookup::Absent);
        assert_eq!(request.lookup("aws:SourceIp"), Lookup::Unknown);
        let complete = request.complete();
        assert_eq!(complete.lookup("aws:SourceIp"), Lookup::Absent);
        let empty = complete.context("aws:TagKeys", Vec::<String>::new());
        assert_eq!(empty.lookup("aws:TagKeys"), Lookup::Absent);
    }

    #[test]
    fn users_answer_their_user_name() {
        let user = Request::new(Principal::User { arn: "arn:aws:iam::111111111111:user/ops/alice".into() }, "s3:GetObject", "arn:aws:s3:::b");
        assert_eq!(user.lookup("aws:username"), Lookup::Values(vec!["alice".into()]));
        assert_eq!(user.lookup("aws:PrincipalType"), Lookup::Values(vec!["User".into()]));
    }
}
