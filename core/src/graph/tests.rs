//! `Graph::build` alone: pure, from programs and snapshots built in memory.

use strake_state::{RecordKind, ResourceRecord, Snapshot};

use super::*;
use crate::prelude::*;
use crate::{Config, builtin::DATA_TYPE};

fn program(f: impl FnOnce(&Stack)) -> Program {
    Program::build("g", Config::default(), |stack| {
        f(stack);
        Ok(())
    })
    .unwrap()
}

fn data_urn(name: &str) -> Urn {
    Urn::new("g", DATA_TYPE, name)
}

/// A recorded `Data` resource that depended on `deps`.
fn record(name: &str, deps: &[&str]) -> ResourceRecord {
    ResourceRecord {
        urn: data_urn(name).to_string(),
        kind: RecordKind::Resource,
        type_token: DATA_TYPE.into(),
        id: format!("id-{name}"),
        inputs: serde_json::json!({}).into(),
        outputs: serde_json::json!({}).into(),
        dependencies: deps.iter().map(|d| data_urn(d).to_string()).collect(),
        provider: None,
        protect: false,
        retain_on_delete: false,
        schema_version: 0,
    }
}

fn names(graph: &Graph, of: &[usize]) -> Vec<String> {
    of.iter().map(|&n| graph.nodes[n].urn.name().to_string()).collect()
}

fn errors(result: Result<Graph, Vec<Diagnostic>>) -> Vec<String> {
    result.expect_err("the graph must be refused").iter().map(|d| d.message.clone()).collect()
}

#[test]
fn dependencies_come_first_and_ties_go_by_urn() {
    let p = program(|stack| {
        let b = Data::new(stack, "b", "x");
        Data::new(stack, "c", b.output());
        Data::new(stack, "a", "y");
    });
    let g = Graph::build(&p, None).unwrap();
    assert_eq!(names(&g, &g.order), ["a", "b", "c"]);
    let c = g.node_index(&data_urn("c")).unwrap();
    assert_eq!(names(&g, &g.deps[c]), ["b"]);
}

#[test]
fn a_cycle_is_refused_naming_its_members() {
    let p = program(|stack| {
        let a = Data::new(stack, "a", "x");
        let b = Data::new(stack, "b", "y").depends_on(&a);
        let _ = a.depends_on(&b);
        Data::new(stack, "free", "z");
    });
    let errors = errors(Graph::build(&p, None));
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(errors[0].starts_with(&format!("dependency cycle between {}, {}", data_urn("a"), data_urn("b"))), "{errors:?}");
}

#[test]
fn a_name_declared_twice_is_refused_once_with_both_places() {
    let p = program(|stack| {
        Data::new(stack, "twin", "x");
        Data::new(stack, "twin", "y");
    });
    let errors = errors(Graph::build(&p, None));
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(errors[0].contains("graph/tests.rs"), "both declarations are named by place: {errors:?}");
}

#[test]
fn removed_resources_keep_their_recorded_order_among_what_still_exists() {
    let p = program(|stack| {
        Data::new(stack, "kept", "x");
    });
    let mut state = Snapshot::empty("g");
    // `child` depended on `parent` and on `kept`; `orphan` on a resource state no longer holds.
    state.resources = vec![record("kept", &[]), record("parent", &[]), record("child", &["parent", "kept"]), record("orphan", &["gone"])];
    let g = Graph::build(&p, Some(&state)).unwrap();
    let node = |name: &str| g.node_index(&data_urn(name)).unwrap();
    assert_eq!(g.nodes[node("child")].kind, NodeKind::Removed);
    assert_eq!(names(&g, &g.deps[node("child")]), ["kept", "parent"]);
    assert!(g.deps[node("orphan")].is_empty(), "a dependency state no longer holds is dropped");
    assert_eq!(names(&g, &g.dependents[node("parent")]), ["child"], "a child's delete comes before its parent's");
}

#[test]
fn a_dependency_on_an_undeclared_resource_is_named() {
    let p = program(|stack| {
        Data::new(stack, "a", Output::property(&data_urn("ghost"), "value"));
    });
    let errors = errors(Graph::build(&p, None));
    assert!(errors.iter().any(|e| e.contains(&format!("depends on `{}`, which the program does not declare", data_urn("ghost")))), "{errors:?}");
}
