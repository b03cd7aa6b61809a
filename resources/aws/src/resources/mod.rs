//! The resource types of the `aws` package. Adding one means one file plus one line in
//! [`registry`].

pub mod eks;
pub mod iam;
pub mod s3;
pub mod sts;

use std::collections::BTreeMap;
use std::sync::{Arc, LazyLock};

use serde_json::Value as Json;
use strake::typed::{Check, Field, Registry, Schema};

use crate::context::Aws;
use crate::policy::{PolicyKind, canonical, parse_document, validate};
use s3::setting::Setting;

/// Every type of the package.
pub(crate) fn registry() -> Arc<Registry<Aws>> {
    static TYPES: LazyLock<Arc<Registry<Aws>>> = LazyLock::new(|| {
        Arc::new(
            Registry::new("aws")
                .resource(iam::role::RoleType)
                .resource(iam::policy::PolicyType)
                .resource(iam::role_policy_attachment::RolePolicyAttachmentType)
                .resource(iam::role_policy::RolePolicyType)
                .resource(iam::oidc_provider::OpenIdConnectProviderType)
                .resource(s3::bucket::BucketType)
                .resource(Setting::<s3::bucket_policy::Policy>::new())
                .resource(s3::object::ObjectType)
                .resource(Setting::<s3::public_access_block::PublicAccessBlock>::new())
                .resource(Setting::<s3::versioning::Versioning>::new())
                .resource(Setting::<s3::encryption::Encryption>::new())
                .data_source(eks::cluster::ClusterType)
                .data_source(sts::caller_identity::CallerIdentityType),
        )
    });
    TYPES.clone()
}

/// Tags, by key.
pub type Tags = BTreeMap<String, String>;

/// Tags as read back: compared when the program manages tags or the object has some (so an
/// untagged object declared without tags compares equal).
pub(crate) fn read_tags(declared: Option<&Tags>, current: Tags) -> Option<Tags> {
    (!current.is_empty() || declared.is_some()).then_some(current)
}

/// Checks tag keys and values against AWS's limits (and their number, for services that limit it).
pub(crate) fn check_tags<S: Schema>(c: &mut Check<S>, field: Field<S, Tags>, max: Option<usize>) {
    let Some(tags) = c.known(field) else { return };
    for (k, v) in &tags {
        if k.is_empty() || k.len() > 128 || k.starts_with("aws:") {
            c.fail_at(format!("{}.{k}", field.name()), "tag keys are 1-128 characters and may not start with `aws:`");
        }
        if v.len() > 256 {
            c.fail_at(format!("{}.{k}", field.name()), "tag values are at most 256 characters");
        }
    }
    if let Some(max) = max.filter(|m| tags.len() > *m) {
        c.fail(field, format!("has {} tags; at most {max} are allowed", tags.len()));
    }
}

/// Parses, validates and canonicalizes a policy document field.
pub(crate) fn check_policy<S: Schema>(c: &mut Check<S>, field: Field<S, Json>, kind: PolicyKind) {
    let Some(raw) = c.known(field) else { return };
    match parse_document(&raw) {
        Ok(doc) => {
            let doc = canonical(&doc);
            for problem in validate(&doc, kind) {
                c.fail(field, format!("the policy {problem}"));
            }
            for warning in crate::policy::warnings(&doc) {
                c.warn(field, format!("the policy {warning}"));
            }
            c.set(field, doc);
        }
        Err(e) => c.fail(field, format!("the policy {e}")),
    }
}

/// A policy document from AWS (a string, possibly URL-encoded) in canonical form.
pub(crate) fn document_from_aws(text: &str) -> Json {
    match parse_document(&Json::String(text.to_string())) {
        Ok(doc) => canonical(&doc),
        Err(_) => Json::String(text.to_string()),
    }
}

/// A policy document as the JSON text AWS takes.
pub(crate) fn policy_text(document: &Json) -> String {
    match document {
        Json::String(s) => s.clone(),
        other => other.to_string(),
    }
}
