//! Whom a `Principal` / `NotPrincipal` element names: the principal itself, only its account, or neither.

use crate::policy::{Principals, Statement};
use crate::request::{Principal, arn_account, role_parts};

/// How a statement's principal element relates to the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Naming {
    /// It does not name the caller (or `NotPrincipal` excludes it).
    Nobody,
    /// It names the caller's account, delegating to that account's identity policies.
    Account,
    /// It names the caller itself (or "*", or a `NotPrincipal` that does not exclude it).
    Itself,
    /// The statement has neither `Principal` nor `NotPrincipal` (identity policies).
    Unstated,
}

/// Whether a `Principal` element's id in the `AWS` kind names the account `account`.
fn names_account(id: &str, account: &str) -> bool {
    id == account || (arn_account(id) == Some(account) && id.split(':').nth(2) == Some("iam") && id.ends_with(":root"))
}

/// Whether `id` names the role `arn` (its role ARN, or a session of it).
fn names_role(id: &str, arn: &str) -> bool {
    if id == arn {
        return true;
    }
    let (Some(me), Some(named)) = (role_parts(arn), role_parts(id)) else { return false };
    if me.partition != named.partition || me.account != named.account {
        return false;
    }
    // A session ARN in a policy names the role by name, whatever the session; so does a role ARN when we only know a session.
    if named.session || me.session { me.name == named.name } else { me.path_and_name == named.path_and_name }
}

fn aws_id_naming(id: &str, principal: &Principal) -> Naming {
    if id == "*" {
        return Naming::Itself;
    }
    let in_account = |account: Option<&str>| if account.is_some_and(|a| names_account(id, a)) { Naming::Account } else { Naming::Nobody };
    match principal {
        Principal::Role { arn } if names_role(id, arn) => Naming::Itself,
        Principal::User { arn } if id == arn => Naming::Itself,
        Principal::Role { .. } | Principal::User { .. } => in_account(principal.account()),
        Principal::Account { id: account } if names_account(id, account) => Naming::Itself,
        _ => Naming::Nobody,
    }
}

/// How a list of principals names the caller (the strongest naming among its ids).
pub(crate) fn naming(principals: &Principals, principal: &Principal) -> Naming {
    let Principals::Map(kinds) = principals else { return Naming::Itself };
    let mut best = Naming::Nobody;
    for (kind, ids) in kinds {
        for id in ids {
            let this = match (kind.as_str(), principal) {
                ("AWS", _) => aws_id_naming(id, principal),
                ("Service", Principal::Service { name }) if id.eq_ignore_ascii_case(name) => Naming::Itself,
                ("Federated", Principal::WebIdentity { provider }) if id == provider => Naming::Itself,
                _ => Naming::Nobody,
            };
            best = best.max(this);
        }
    }
    best
}

/// How a statement's `Principal` or `NotPrincipal` relates to the caller. `NotPrincipal` excludes only
/// principals it names themselves: naming just their account does not exclude them.
pub(crate) fn statement_naming(statement: &Statement, principal: &Principal) -> Naming {
    if let Some(principals) = &statement.principal {
        return naming(principals, principal);
    }
    if let Some(excluded) = &statement.not_principal {
        return if naming(excluded, principal) == Naming::Itself { Naming::Nobody } else { Naming::Itself };
    }
    Naming::Unstated
}

/// Whether a statement can apply to the principal (its Principal/NotPrincipal; statements without either — identity policies — apply to anyone). Three-valued result not needed: principal matching is exact.
pub fn names_principal(statement: &Statement, principal: &Principal) -> bool {
    statement_naming(statement, principal) != Naming::Nobody
}

/// A hint for a `Principal` that misses the caller: a federated provider or role named in another account.
pub(crate) fn mismatch_hint(principals: &Principals, principal: &Principal) -> Option<String> {
    let Principals::Map(kinds) = principals else { return None };
    let (kind, mine) = match principal {
        Principal::WebIdentity { provider } => ("Federated", provider.as_str()),
        Principal::Role { arn } | Principal::User { arn } => ("AWS", arn.as_str()),
        _ => return None,
    };
    let my_account = arn_account(mine)?;
    let my_rest = mine.rsplit(':').next()?;
    kinds.get(kind)?.iter().find_map(|id| {
        let account = arn_account(id)?;
        (account != my_account && id.rsplit(':').next() == Some(my_rest))
            .then(|| format!("it names {my_rest} in account {account}, but the caller's is in account {my_account}"))
    })
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn aws(ids: &[&str]) -> Principals {
        Principals::Map(BTreeMap::from([("AWS".to_string(), ids.iter().map(|s| s.to_string()).collect())]))
    }

    fn role(arn: &str) -> Principal {
        Principal::Role { arn: arn.into() }
    }

    #[test]
    fn roles_are_named_by_arn_or_session_and_their_account_is_separate() {
        let app = role("arn:aws:iam::111111111111:role/team/app");
        assert_eq!(naming(&aws(&["arn:aws:iam::111111111111:role/team/app"]), &app), Naming::Itself);
        assert_eq!(naming(&aws(&["arn:aws:sts::111111111111:assumed-role/app/ci"]), &app), Naming::Itself);
        assert_eq!(naming(&aws(&["arn:aws:iam::111111111111:role/app"]), &app), Naming::Nobody);
        assert_eq!(naming(&aws(&["arn:aws:iam::111111111111:root"]), &app), Naming::Account);
        assert_eq!(naming(&aws(&["111111111111"]), &app), Naming::Account);
        assert_eq!(naming(&aws(&["222222222222", "arn:aws:iam::111111111111:role/team/app"]), &app), Naming::Itself);
        assert_eq!(naming(&aws(&["arn:aws:iam::222222222222:role/team/app"]), &app), Naming::Nobody);
        let session = role("arn:aws:sts::111111111111:assumed-role/app/ci");
        assert_eq!(naming(&aws(&["arn:aws:iam::111111111111:role/team/app"]), &session), Naming::Itself);
    }

    #[test]
    fn the_root_is_its_account() {
        let root = Principal::Account { id: "111111111111".into() };
        assert_eq!(naming(&aws(&["arn:aws:iam::111111111111:root"]), &root), Naming::Itself);
        assert_eq!(naming(&aws(&["111111111111"]), &root), Naming::Itself);
        assert_eq!(naming(&aws(&["arn:aws:iam::111111111111:role/x"]), &root), Naming::Nobody);
        // An ARN that merely ends in `:root` but is not IAM's does not name the account.
        assert_eq!(naming(&aws(&["arn:aws:sts::111111111111:root"]), &root), Naming::Nobody);
    }

    #[test]
    fn services_and_web_identities_need_their_own_kind() {
        let ec2 = Principal::Service { name: "ec2.amazonaws.com".into() };
        let service = Principals::Map(BTreeMap::from([("Service".to_string(), vec!["ec2.amazonaws.com".to_string()])]));
        assert_eq!(naming(&service, &ec2), Naming::Itself);
        assert_eq!(naming(&aws(&["ec2.amazonaws.com"]), &ec2), Naming::Nobody);
        assert_eq!(naming(&Principals::Any, &Principal::Anonymous), Naming::Itself);
        assert_eq!(naming(&aws(&["*", "111111111111"]), &Principal::Anonymous), Naming::Itself);
    }

    #[test]
    fn federated_hint_names_the_wrong_account() {
        let provider = "oidc-provider/oidc.eks.us-east-1.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE";
        let me = Principal::WebIdentity { provider: format!("arn:aws:iam::111111111111:{provider}") };
        let named = Principals::Map(BTreeMap::from([("Federated".to_string(), vec![format!("arn:aws:iam::222222222222:{provider}")])]));
        assert_eq!(naming(&named, &me), Naming::Nobody);
        let hint = mismatch_hint(&named, &me).unwrap();
        assert!(hint.contains("account 222222222222") && hint.contains("account 111111111111"), "{hint}");
    }
}
