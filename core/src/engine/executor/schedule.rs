//! The apply's work items and the order between them. Pure: derived from the graph and each
//! node's action, so it is tested without running anything.
//!
//! The rule for every delete, whatever kind: an object is deleted only after every object that
//! depends on it has been deleted or let go of it. A cloud enforces this (IAM refuses to delete a
//! role that still has a policy attached), so the order is what makes a replacement converge in
//! one apply:
//! - a plain delete (a removed resource, or any resource in a destroy) waits for its dependents'
//!   deletes;
//! - the old object of a create-then-delete replacement ("deposed") waits for the new object,
//!   for every dependent's step (they move to the new object), and for the deposed or removed
//!   dependents' deletes;
//! - the delete half of a delete-then-create replacement waits for the delete halves of its
//!   replaced dependents and for its removed dependents' deletes; its create half waits for its
//!   delete half and its dependencies, and its dependents wait for the create half;
//! - an old object an earlier run left to delete (a pending delete it could not finish, because
//!   something still depended on it) waits like a deposed object: for its dependents' steps and
//!   deletes, and for the left-over old objects of its dependents.

use crate::graph::{Graph, NodeKind};
use crate::plan::{Action, PlanMode, ReplaceOrder};

/// One unit of work of an apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Work {
    /// The node's step: configure a provider, read a data source, create, update, delete; for a
    /// delete-then-create replacement, its create half.
    Node(usize),
    /// The delete half of a delete-then-create replacement.
    DeleteReplaced(usize),
    /// The old object of a create-then-delete replacement.
    DeleteDeposed(usize),
    /// The `k`-th old object an earlier run left to delete (of node `inherited[k]`).
    DeleteLeftOver(usize),
}

/// The work items and, for each, the items it waits for. `action(n)` is node `n`'s planned action
/// (`NoOp` for nodes without a step); `left_over[k]` is the node of the `k`-th old object an
/// earlier run left to delete.
pub(super) fn schedule(graph: &Graph, mode: PlanMode, action: impl Fn(usize) -> Action, left_over: &[usize]) -> (Vec<Work>, Vec<Vec<usize>>) {
    let n = graph.nodes.len();
    let actions: Vec<Action> = (0..n).map(&action).collect();
    let reverse: Vec<bool> =
        (0..n).map(|i| actions[i] == Action::Delete || (mode == PlanMode::Destroy && graph.nodes[i].kind == NodeKind::Provider)).collect();
    let mut work: Vec<Work> = (0..n).map(Work::Node).collect();
    let mut replaced = vec![None; n];
    let mut deposed = vec![None; n];
    for i in 0..n {
        match actions[i] {
            Action::Replace(ReplaceOrder::DeleteThenCreate) => {
                replaced[i] = Some(work.len());
                work.push(Work::DeleteReplaced(i));
            }
            Action::Replace(ReplaceOrder::CreateThenDelete) => {
                deposed[i] = Some(work.len());
                work.push(Work::DeleteDeposed(i));
            }
            _ => {}
        }
    }
    let mut left_over_of: Vec<Vec<usize>> = vec![Vec::new(); n];
    for (k, &i) in left_over.iter().enumerate() {
        left_over_of[i].push(work.len());
        work.push(Work::DeleteLeftOver(k));
    }
    // The item that deletes node `d`'s old object, if any.
    let delete_of = |d: usize| -> Option<usize> { if reverse[d] { Some(d) } else { replaced[d].or(deposed[d]) } };
    let mut deps: Vec<Vec<usize>> = vec![Vec::new(); work.len()];
    for (item, w) in work.iter().enumerate() {
        deps[item] = match *w {
            Work::Node(i) if reverse[i] => {
                let mut d = graph.dependents[i].clone();
                d.extend(graph.dependents[i].iter().flat_map(|&d| left_over_of[d].iter().copied()));
                d
            }
            Work::Node(i) => {
                let mut d: Vec<usize> = graph.deps[i].iter().copied().filter(|&d| !reverse[d]).collect();
                d.extend(replaced[i]);
                d
            }
            Work::DeleteReplaced(i) => {
                // Its provider must be configured; its dependents must let go of it first. A
                // create-then-delete dependent cannot (its old object lives until after this
                // node's new one exists): the planner makes such dependents delete first too.
                let mut d: Vec<usize> = graph.deps[i].iter().copied().filter(|&d| graph.nodes[d].kind == NodeKind::Provider && !reverse[d]).collect();
                d.extend(graph.dependents[i].iter().filter(|&&d| deposed[d].is_none()).filter_map(|&d| delete_of(d)));
                d.extend(graph.dependents[i].iter().flat_map(|&d| left_over_of[d].iter().copied()));
                d
            }
            Work::DeleteDeposed(i) => {
                let mut d = vec![i];
                d.extend(graph.dependents[i].iter().copied());
                d.extend(graph.dependents[i].iter().filter_map(|&d| deposed[d]));
                d.extend(graph.dependents[i].iter().flat_map(|&d| left_over_of[d].iter().copied()));
                d
            }
            Work::DeleteLeftOver(k) => {
                let i = left_over[k];
                let mut d: Vec<usize> = graph.dependents[i].to_vec();
                d.extend(graph.dependents[i].iter().filter_map(|&d| delete_of(d)));
                d.extend(graph.dependents[i].iter().flat_map(|&d| left_over_of[d].iter().copied()));
                d.extend(graph.deps[i].iter().copied().filter(|&d| graph.nodes[d].kind == NodeKind::Provider && !reverse[d]));
                d
            }
        };
        deps[item].sort_unstable();
        deps[item].dedup();
    }
    (work, deps)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::program::Program;
    use crate::{Config, Data, Value};

    /// `role` <- `attachment` (the attachment depends on the role), built-in provider.
    fn graph() -> Graph {
        let program = Program::build("s", Config::default(), |stack| {
            let role = Data::new(stack, "role", Value::from(1));
            Data::new(stack, "attachment", role.output());
            Ok(())
        })
        .unwrap();
        Graph::build(&program, None).unwrap()
    }

    fn index(g: &Graph, name: &str) -> usize {
        g.nodes.iter().position(|n| n.urn.name() == name).unwrap()
    }

    /// The items `item` waits for, as readable labels.
    fn waits(g: &Graph, work: &[Work], deps: &[Vec<usize>], item: Work) -> Vec<String> {
        let at = work.iter().position(|w| *w == item).unwrap();
        deps[at].iter().map(|&d| label(g, work[d])).collect()
    }

    fn label(g: &Graph, w: Work) -> String {
        match w {
            Work::Node(i) => g.nodes[i].urn.name().to_string(),
            Work::DeleteReplaced(i) => format!("delete {}", g.nodes[i].urn.name()),
            Work::DeleteDeposed(i) => format!("delete old {}", g.nodes[i].urn.name()),
            Work::DeleteLeftOver(k) => format!("delete left-over {k}"),
        }
    }

    const CTD: Action = Action::Replace(ReplaceOrder::CreateThenDelete);
    const DTC: Action = Action::Replace(ReplaceOrder::DeleteThenCreate);

    #[test]
    fn a_deposed_parent_waits_for_its_deposed_dependents() {
        let g = graph();
        let (role, att) = (index(&g, "role"), index(&g, "attachment"));
        let (work, deps) = schedule(&g, PlanMode::Normal, |_| CTD, &[]);
        assert_eq!(waits(&g, &work, &deps, Work::DeleteDeposed(role)), ["role", "attachment", "delete old attachment"]);
        assert_eq!(waits(&g, &work, &deps, Work::DeleteDeposed(att)), ["attachment"]);
        assert_eq!(waits(&g, &work, &deps, Work::Node(att)), ["role"]);
    }

    #[test]
    fn a_delete_first_replacement_deletes_its_replaced_dependents_first() {
        let g = graph();
        let (role, att) = (index(&g, "role"), index(&g, "attachment"));
        let (work, deps) = schedule(&g, PlanMode::Normal, |_| DTC, &[]);
        assert_eq!(waits(&g, &work, &deps, Work::DeleteReplaced(role)), ["delete attachment"]);
        assert_eq!(waits(&g, &work, &deps, Work::DeleteReplaced(att)), Vec::<String>::new());
        assert_eq!(waits(&g, &work, &deps, Work::Node(role)), ["delete role"]);
        assert_eq!(waits(&g, &work, &deps, Work::Node(att)), ["role", "delete attachment"]);
    }

    #[test]
    fn a_delete_first_replacement_waits_for_removed_dependents() {
        let g = graph();
        let (role, att) = (index(&g, "role"), index(&g, "attachment"));
        let (work, deps) = schedule(&g, PlanMode::Normal, |i| if i == role { DTC } else { Action::Delete }, &[]);
        assert_eq!(waits(&g, &work, &deps, Work::DeleteReplaced(role)), ["attachment"]);
        assert_eq!(waits(&g, &work, &deps, Work::Node(att)), Vec::<String>::new());
    }

    #[test]
    fn an_updated_dependent_does_not_hold_a_delete_first_replacement() {
        let g = graph();
        let role = index(&g, "role");
        let (work, deps) = schedule(&g, PlanMode::Normal, |i| if i == role { DTC } else { Action::Update }, &[]);
        assert_eq!(waits(&g, &work, &deps, Work::DeleteReplaced(role)), Vec::<String>::new());
    }

    #[test]
    fn left_over_old_objects_wait_for_their_dependents_to_move_and_their_old_objects() {
        let g = graph();
        let (role, att) = (index(&g, "role"), index(&g, "attachment"));
        // The old role and the old attachment were left by an earlier run; this one replaces the
        // attachment (its old object is deposed) and leaves the role alone.
        let (work, deps) = schedule(&g, PlanMode::Normal, |i| if i == att { CTD } else { Action::NoOp }, &[role, att]);
        assert_eq!(waits(&g, &work, &deps, Work::DeleteLeftOver(0)), ["attachment", "delete old attachment", "delete left-over 1"]);
        assert_eq!(waits(&g, &work, &deps, Work::DeleteLeftOver(1)), Vec::<String>::new());
    }

    #[test]
    fn deletes_wait_for_their_dependents() {
        let g = graph();
        let role = index(&g, "role");
        let (work, deps) = schedule(&g, PlanMode::Destroy, |_| Action::Delete, &[]);
        assert_eq!(work.len(), g.nodes.len());
        assert_eq!(waits(&g, &work, &deps, Work::Node(role)), ["attachment"]);
    }
}
