//! IAM policy evaluation, pure (no I/O): who may do what on which resource, and why.
//!
//! This crate evaluates AWS IAM policies offline, following AWS's documented policy evaluation
//! logic. It parses policy documents ([`Policy::parse`]), and [`evaluate`]s a [`Request`] (a
//! [`Principal`] calling an action on a resource) against the [`Policies`] that bear on it: the
//! principal's identity policies, its permissions boundary, and the resource's policy (a bucket
//! policy, or a role's trust policy for `sts:AssumeRole*`). The answer is a [`Decision`] with the
//! statements it rests on and an explanation in English, a line per policy, statement and element.
//!
//! # What matches
//!
//! A statement applies when its action, resource, principal and conditions all hold; each is
//! three-valued (holds, fails, or unknown at plan time):
//!
//! - **Action / NotAction**: case-insensitive wildcard patterns ([`action_matches`]).
//! - **Resource / NotResource**: case-sensitive wildcard patterns ([`glob`]) over the whole ARN, with
//!   policy variables resolved. A statement with neither matches any resource (as trust policies are written).
//! - **Principal / NotPrincipal**: only statements that have one restrict the principal ([`names_principal`]).
//!   `"*"` and `{"AWS": "*"}` both parse to [`Principals::Any`] and name everyone, services, web
//!   identities and anonymous callers included (AWS documents the two as equivalent). A role is named
//!   by its role ARN or by a session ARN of it (any session name); a user by its ARN; an account by
//!   its id or `arn:aws:iam::<id>:root`; a service by `{"Service": name}`; a web identity by
//!   `{"Federated": provider}`. Naming a role's or user's *account* is not naming the role or user:
//!   it delegates to the account's identity policies. For the root ([`Principal::Account`]) naming the
//!   account is naming it. `NotPrincipal` excludes only principals it names themselves.
//! - **Condition**: operator blocks AND, keys AND, a key's values OR (a negated operator needs the key
//!   to match none of them). Keys are case-insensitive; values are case-sensitive except for the
//!   `*IgnoreCase` operators. Modelled: `StringEquals`, `StringNotEquals`, `StringEqualsIgnoreCase`,
//!   `StringNotEqualsIgnoreCase`, `StringLike`, `StringNotLike`, `ArnEquals`, `ArnLike`,
//!   `ArnNotEquals`, `ArnNotLike` (per colon-separated part, [`arn_matches`]; `ArnEquals` is `ArnLike`,
//!   as in AWS), `Bool` and `Null`; each (but `Null`) with `IfExists` and the `ForAnyValue:` /
//!   `ForAllValues:` qualifiers. Without a qualifier, a key with several values holds when any of
//!   them matches (for negated operators: when none does).
//!
//! # Absent and unknown keys
//!
//! With [`Request::context_complete`] set, a key missing from the context is absent from the request:
//! a positive operator fails, a negated one (`StringNot*`, `ArnNot*`) holds, `...IfExists` holds,
//! `Null: true` holds, `ForAllValues:` holds and `ForAnyValue:` fails (a key given with no values
//! counts as absent). Otherwise a missing key is
//! unknown and a condition on it is undecided, except for the keys the principal answers itself:
//! `aws:PrincipalArn` ([`Principal::arn`]), `aws:PrincipalAccount`, `aws:PrincipalType`,
//! `aws:PrincipalServiceName`, `aws:PrincipalIsAWSService` and, for users, `aws:username`.
//! `aws:PrincipalType` is `AssumedRole` for roles, `User`, `Account` for the root, `Anonymous`, and
//! this crate's own choices `AWSService` for services and `WebIdentityUser` for web identities (AWS
//! documents no value for those two). A policy variable (`${aws:username}`, with `${key, 'default'}`
//! and the escapes `${*}`, `${?}`, `${$}`) is substituted from the same lookup; an unknown one leaves
//! the value undecided.
//!
//! # The decision
//!
//! - A Deny that applies, in any identity, boundary or resource policy, is an explicit deny.
//! - *identity*: an identity Allow applies; *boundary*: there is no boundary, or a boundary Allow
//!   applies; *direct*: a resource-policy Allow naming the principal itself applies; *account*: a
//!   resource-policy Allow naming the principal's account applies.
//! - Services, web identities and anonymous callers have no identity policies: allowed = direct.
//! - The root of an account: in its own account allowed (unless denied); across accounts direct or account.
//! - A role or user in the resource's account: boundary and (identity or direct).
//! - A role or user from another account: identity and boundary and (direct or account). With no
//!   resource policy there is no access across accounts.
//! - Three-valued: allowed when the formula holds and no Deny may apply; conditional when the formula
//!   may hold or a Deny may apply to an otherwise allowed request ([`Evaluation::conditional_on`] says
//!   on what); otherwise an implicit deny.
//! - Same account means the principal's account is the resource's: [`Request::resource_account`],
//!   else the ARN's account field, else (S3 ARNs have none) the principal's own, which the
//!   explanation says it assumed.
//!
//! Where this differs from or adds to AWS's documents:
//!
//! - Role trust policies (an `sts:` action on a role) and KMS key policies must allow even within
//!   one account, as AWS documents: there a role or user needs boundary and (direct, or identity and
//!   account), and the root needs direct.
//! - A resource-policy Allow naming the principal itself is limited by its permissions boundary even
//!   when it names a session; AWS lets a grant to a session ARN bypass the boundary.
//! - A Deny naming an account applies to every principal of that account.
//! - AWS wants `NotPrincipal` to list a role's account (and session) too before it excludes the role;
//!   this crate excludes a principal the list names itself.
//! - Resource patterns are matched as one glob over the ARN, not per part.
//! - Policy variables are resolved whatever the document's `Version`.
//! - Identity policies and boundaries count only for roles and users; the root has none.
//!
//! # Not modelled
//!
//! Service and resource control policies (SCPs, RCPs), session policies, ACLs, VPC endpoint
//! policies and KMS grants are not evaluated: a request they would deny may show as allowed.
//! The `Numeric*`, `Date*`, `IpAddress`, `NotIpAddress` and `BinaryEquals` operators, and policy
//! variables that cannot be resolved, are never decided: a statement that depends on them makes
//! the answer [`Decision::Conditional`], never allowed or denied silently.
//!
//! # Example
//!
//! A role in account 111111111111 reads an object in a bucket of account 222222222222: its identity
//! policy and the bucket policy must both allow it.
//!
//! ```
//! use serde_json::json;
//! use strake_access::{Decision, Policies, Policy, Principal, Request, evaluate};
//!
//! let identity = Policy::parse("policy s3_read", &json!({
//!     "Version": "2012-10-17",
//!     "Statement": {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::reports/*"}
//! })).unwrap();
//! let bucket = Policy::parse("bucket policy of reports", &json!({
//!     "Version": "2012-10-17",
//!     "Statement": [{
//!         "Sid": "ReadFromApp",
//!         "Effect": "Allow",
//!         "Principal": {"AWS": "arn:aws:iam::111111111111:role/app"},
//!         "Action": ["s3:GetObject"],
//!         "Resource": "arn:aws:s3:::reports/*"
//!     }]
//! })).unwrap();
//! let app = Principal::Role { arn: "arn:aws:iam::111111111111:role/app".into() };
//! let request = Request::new(app, "s3:GetObject", "arn:aws:s3:::reports/2024.csv").resource_account("222222222222");
//!
//! let both = Policies { identity: vec![&identity], boundary: None, resource: Some(&bucket) };
//! assert_eq!(evaluate(&request, &both).decision, Decision::Allowed);
//!
//! let identity_only = Policies { identity: vec![&identity], ..Policies::default() };
//! let evaluation = evaluate(&request, &identity_only);
//! assert_eq!(evaluation.decision, Decision::ImplicitDeny);
//! assert!(evaluation.reason().unwrap().contains("across accounts the bucket policy must allow it too; bucket policy: none"));
//! ```

#![warn(missing_docs)]

mod condition;
mod eval;
mod explain;
mod glob;
mod hints;
mod naming;
mod policy;
mod request;
mod statement;
mod tri;
mod variables;

pub use eval::{Decision, Evaluation, Policies, StatementRef, evaluate};
pub use glob::{action_matches, arn_matches, glob};
pub use naming::names_principal;
pub use policy::{Condition, Effect, Policy, Principals, Statement};
pub use request::{Principal, Request};
