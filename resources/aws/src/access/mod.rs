//! Access: who can do what, on which resource, in which account, and what a plan changes in it.
//!
//! The evaluator is [`strake_access`] (pure, re-exported here): "can principal P do action A on
//! resource R?", with an explanation, usable without the engine. This module reads a stack's
//! resources into an access graph (`grants`): roles with their trust (who can become them,
//! closed transitively), managed policies through attachments, inline policies, permissions
//! boundaries, bucket policies, OIDC providers, and the Kubernetes service accounts annotated
//! with a role. [`AccessReview`] compares the graph before and after a plan: the plan's
//! "Access changes" section. A gain counts as broadening unless a grant before it already
//! covered it (same action, a resource pattern and a subject pattern that cover it), so an edit
//! that narrows access is not broadening, whatever its text.
//!
//! Limits: wildcards in actions are expanded through the [`crate::catalog`] (services outside it
//! stand for themselves); a policy that is not declared in the stack (an AWS managed policy, a
//! boundary declared elsewhere) is named in a note and not evaluated; values known only after
//! apply show as `(known after apply)`; conditions the evaluator does not model make a grant
//! "conditional", shown with the condition.

mod grants;
mod model;
mod review;

pub use grants::{Grant, Subject};
pub use review::AccessReview;
pub use strake_access::*;

#[cfg(test)]
mod tests;
