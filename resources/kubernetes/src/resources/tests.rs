//! The shape every kind's inputs must have, and the object mechanics on plain JSON.

use serde_json::json;

use super::*;

fn kind_has_metadata<K: Kind>() {
    let names: Vec<&str> = K::Inputs::FIELDS.iter().map(|f| f.name).collect();
    for needed in [object::NAME, "labels", "annotations"] {
        assert!(names.contains(&needed), "{} lacks `{needed}`: {names:?}", K::OBJECT.type_token);
    }
    assert_eq!(names.contains(&object::NAMESPACE), K::OBJECT.namespaced, "{}", K::OBJECT.type_token);
    for new_object in [object::NAME, object::NAMESPACE].iter().filter(|f| names.contains(f)) {
        assert!(K::Inputs::RULES.replace_on.contains(new_object), "{}: `{new_object}` is not `replace_on`", K::OBJECT.type_token);
    }
    for (input, _) in K::OBJECT.fields {
        assert!(names.contains(input), "{} maps `{input}`, which it lacks", K::OBJECT.type_token);
    }
    assert!(object_kind(K::OBJECT.type_token).is_some() && registry().has(K::OBJECT.type_token), "{} is registered", K::OBJECT.type_token);
}

#[test]
fn every_kind_has_the_inputs_the_object_mechanics_use() {
    kind_has_metadata::<namespace::NamespaceKind>();
    kind_has_metadata::<service_account::ServiceAccountKind>();
    kind_has_metadata::<deployment::DeploymentKind>();
    assert!(registry().has(namespace::LOOKUP_TYPE));
}

#[test]
fn the_applied_object_holds_only_what_the_program_sets_and_reads_back_through_it() {
    let kind = <deployment::DeploymentKind as Kind>::OBJECT;
    let inputs = json!({"name": "web", "namespace": "apps", "labels": {"app": "web"}, "annotations": {},
        "spec": {"replicas": 1}, "service_account_namespace": "apps", "force_conflicts": true});
    let body = kind.body(&inputs);
    assert_eq!(
        body,
        json!({"apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "apps", "labels": {"app": "web"}}, "spec": {"replicas": 1}})
    );
    let live = json!({"apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "apps", "uid": "u", "labels": {"app": "web", "added": "x"}},
        "spec": {"replicas": 3, "paused": false}});
    assert_eq!(
        kind.observed_inputs(Some(&inputs), &live, &["service_account_namespace"]),
        json!({"name": "web", "namespace": "apps", "labels": {"app": "web"},
        "annotations": {}, "spec": {"replicas": 3}, "service_account_namespace": "apps", "force_conflicts": true})
    );
    // An import has no inputs: the fields the kind maps are taken as they are.
    assert_eq!(kind.observed_inputs(None, &live, &[]), json!({"name": "web", "namespace": "apps", "spec": {"replicas": 3, "paused": false}}));
    assert_eq!(kind.locate(Some("apps/web"), None), Some((Some("apps".to_string()), "web".to_string())));
    assert_eq!(kind.id(Some("apps"), "web"), "apps/web");
}
