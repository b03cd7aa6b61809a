//! The least privilege Strake's S3 state backend needs, as a policy a program can declare: list
//! the bucket under the prefix only, and read, write and delete the objects under it.

use crate::policy::{PolicyDocument, Statement};

/// The identity policy for keeping stacks at `s3://<bucket>/<prefix>` (`prefix` without slashes
/// at either end; empty for the whole bucket): `s3:ListBucket` on the bucket, limited to the
/// prefix by an `s3:prefix` condition, and `s3:GetObject`, `s3:PutObject` and `s3:DeleteObject`
/// on the objects under the prefix. Attach it to the role or user that runs Strake.
pub fn state_backend_policy(bucket: &str, prefix: &str) -> PolicyDocument {
    let prefix = prefix.trim_matches('/');
    let under = if prefix.is_empty() { String::new() } else { format!("{prefix}/") };
    PolicyDocument::new()
        .statement(Statement::allow().sid("ListStateObjects").actions(["s3:ListBucket"]).resources([format!("arn:aws:s3:::{bucket}")]).condition(
            "StringLike",
            "s3:prefix",
            [format!("{under}*")],
        ))
        .statement(
            Statement::allow()
                .sid("ReadWriteStateObjects")
                .actions(["s3:GetObject", "s3:PutObject", "s3:DeleteObject"])
                .resources([format!("arn:aws:s3:::{bucket}/{under}*")]),
        )
}

#[cfg(test)]
mod tests {
    use strake::output::EmptyEnv;

    use super::*;
    use crate::policy::{PolicyKind, validate};

    #[test]
    fn the_state_policy_is_a_valid_identity_policy_limited_to_the_prefix() {
        let doc = state_backend_policy("team-state", "/infra/prod/").to_output().resolve(&EmptyEnv).unwrap().value.unwrap().to_plain_json().unwrap();
        assert_eq!(validate(&doc, PolicyKind::Identity), Vec::<String>::new());
        assert_eq!(doc["Statement"][0]["Condition"]["StringLike"]["s3:prefix"], serde_json::json!(["infra/prod/*"]));
        assert_eq!(doc["Statement"][1]["Resource"], serde_json::json!(["arn:aws:s3:::team-state/infra/prod/*"]));
        let whole = state_backend_policy("team-state", "").to_output().resolve(&EmptyEnv).unwrap().value.unwrap().to_plain_json().unwrap();
        assert_eq!(whole["Statement"][1]["Resource"], serde_json::json!(["arn:aws:s3:::team-state/*"]));
    }
}
