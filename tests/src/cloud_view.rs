//! What moto holds in one account, in the terms Strake records, so a test can check against
//! moto's own view that state equals the cloud: nothing orphaned (in the cloud, not in state),
//! nothing lost (in state, not in the cloud), nothing duplicated.

use std::collections::{BTreeMap, BTreeSet};

use aws_config::SdkConfig;
use strake_state::{RecordKind, Snapshot};

/// The IAM and S3 objects of an account, by the ids Strake records for them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CloudView {
    /// Role name → path.
    pub roles: BTreeMap<String, String>,
    /// Customer-managed policy ARNs.
    pub policies: BTreeSet<String>,
    /// `<role name>/<policy ARN>`, as attachment ids are.
    pub attachments: BTreeSet<String>,
    /// `<role name>:<policy name>`, as inline role policy ids are.
    pub inline_policies: BTreeSet<String>,
    /// OIDC provider ARNs.
    pub oidc_providers: BTreeSet<String>,
    pub buckets: BTreeSet<String>,
}

impl CloudView {
    /// Reads the account of `sdk` (straight from moto, not through a fault proxy).
    pub async fn read(sdk: &SdkConfig) -> CloudView {
        let iam = aws_sdk_iam::Client::new(sdk);
        let s3 = crate::aws::s3_client(sdk);
        let mut view = CloudView::default();
        let mut marker = None;
        loop {
            let out = iam.list_roles().set_marker(marker.clone()).send().await.expect("iam:ListRoles on moto");
            for role in out.roles() {
                view.roles.insert(role.role_name().to_string(), role.path().to_string());
            }
            match out.marker() {
                Some(m) if out.is_truncated() => marker = Some(m.to_string()),
                _ => break,
            }
        }
        let mut marker = None;
        loop {
            let out = iam
                .list_policies()
                .scope(aws_sdk_iam::types::PolicyScopeType::Local)
                .set_marker(marker.clone())
                .send()
                .await
                .expect("iam:ListPolicies on moto");
            view.policies.extend(out.policies().iter().filter_map(|p| p.arn().map(str::to_string)));
            match out.marker() {
                Some(m) if out.is_truncated() => marker = Some(m.to_string()),
                _ => break,
            }
        }
        for role in view.roles.keys() {
            let out = iam.list_attached_role_policies().role_name(role).send().await.expect("iam:ListAttachedRolePolicies on moto");
            view.attachments.extend(out.attached_policies().iter().filter_map(|p| Some(format!("{role}/{}", p.policy_arn()?))));
            let out = iam.list_role_policies().role_name(role).send().await.expect("iam:ListRolePolicies on moto");
            view.inline_policies.extend(out.policy_names().iter().map(|name| format!("{role}:{name}")));
        }
        let out = iam.list_open_id_connect_providers().send().await.expect("iam:ListOpenIDConnectProviders on moto");
        view.oidc_providers.extend(out.open_id_connect_provider_list().iter().filter_map(|p| p.arn().map(str::to_string)));
        let out = s3.list_buckets().send().await.expect("s3:ListBuckets on moto");
        view.buckets.extend(out.buckets().iter().filter_map(|b| b.name().map(str::to_string)));
        view
    }

    /// What a stack's state says exists.
    pub fn of_state(snapshot: &Snapshot) -> CloudView {
        let mut view = CloudView::default();
        for r in snapshot.resources.iter().filter(|r| r.kind == RecordKind::Resource) {
            match r.type_token.as_str() {
                "aws:iam:Role" => {
                    let path = r.outputs.to_value().get("path").and_then(|p| p.as_str()).unwrap_or("/").to_string();
                    view.roles.insert(r.id.clone(), path);
                }
                "aws:iam:Policy" => {
                    view.policies.insert(r.id.clone());
                }
                "aws:iam:RolePolicyAttachment" => {
                    view.attachments.insert(r.id.clone());
                }
                "aws:iam:RolePolicy" => {
                    view.inline_policies.insert(r.id.clone());
                }
                "aws:iam:OpenIdConnectProvider" => {
                    view.oidc_providers.insert(r.id.clone());
                }
                "aws:s3:Bucket" => {
                    view.buckets.insert(r.id.clone());
                }
                _ => {}
            }
        }
        view
    }

    /// This view without what `baseline` holds (objects made before the test, by the harness).
    pub fn without(&self, baseline: &CloudView) -> CloudView {
        CloudView {
            roles: self.roles.iter().filter(|(k, _)| !baseline.roles.contains_key(*k)).map(|(k, v)| (k.clone(), v.clone())).collect(),
            policies: self.policies.difference(&baseline.policies).cloned().collect(),
            attachments: self.attachments.difference(&baseline.attachments).cloned().collect(),
            inline_policies: self.inline_policies.difference(&baseline.inline_policies).cloned().collect(),
            oidc_providers: self.oidc_providers.difference(&baseline.oidc_providers).cloned().collect(),
            buckets: self.buckets.difference(&baseline.buckets).cloned().collect(),
        }
    }

    pub fn is_empty(&self) -> bool {
        *self == CloudView::default()
    }

    /// How many objects in all.
    pub fn len(&self) -> usize {
        self.roles.len() + self.policies.len() + self.attachments.len() + self.inline_policies.len() + self.oidc_providers.len() + self.buckets.len()
    }
}

/// Panics, naming every difference, unless the account (less `baseline`) holds exactly what
/// `snapshot` records and the snapshot has no interrupted operation left.
pub async fn assert_state_is_cloud(sdk: &SdkConfig, baseline: &CloudView, snapshot: &Snapshot, context: &str) {
    let cloud = CloudView::read(sdk).await.without(baseline);
    let state = CloudView::of_state(snapshot);
    let orphaned = cloud.without(&state);
    let lost = state.without(&cloud);
    assert!(
        orphaned.is_empty() && lost.is_empty() && cloud.roles == state.roles,
        "{context}: state does not equal the cloud\n  in the cloud, not in state (orphaned): {orphaned:?}\n  in state, not in the cloud (lost): {lost:?}\n  roles (name → path) in the cloud: {:?}\n  in state: {:?}",
        cloud.roles,
        state.roles
    );
    assert!(snapshot.pending.is_empty(), "{context}: interrupted operations left: {:?}", snapshot.pending);
}
