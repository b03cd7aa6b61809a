//! The dependency graph of a program (plus the resources state has and the program dropped).
//!
//! Pure: built from a [`Program`] and the recorded [`Snapshot`], no I/O. Nodes are provider
//! configurations, resources and data sources; an edge `a -> b` means `b` depends on `a`.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Write as _;

use petgraph::graph::{DiGraph, NodeIndex};
use strake_state::{RecordKind, Snapshot};

use crate::error::Diagnostic;
use crate::program::{DeclKind, Program};
use crate::{Urn, builtin, urn::package_of};

/// What a node of the graph stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeKind {
    /// A provider configuration the program declares.
    Provider,
    /// A managed resource the program declares.
    Resource,
    /// A data source the program declares.
    DataSource,
    /// In state but no longer in the program: to be deleted.
    Removed,
}

/// One provider configuration, resource or data source of the graph.
#[derive(Debug, Clone)]
pub struct Node {
    /// Its URN.
    pub urn: Urn,
    /// What it stands for.
    pub kind: NodeKind,
    /// The provider configuration that manages it; `None` for the built-in provider and for providers.
    pub provider: Option<Urn>,
    /// Index into `Program::resources` / `Program::providers`, for declared nodes.
    pub decl: Option<usize>,
}

/// A validated, acyclic dependency graph with a deterministic topological order.
#[derive(Debug, Clone)]
pub struct Graph {
    /// Every node; the other fields refer to nodes by index into this list.
    pub nodes: Vec<Node>,
    index: HashMap<Urn, usize>,
    /// `deps[n]`: the nodes `n` depends on (sorted).
    pub deps: Vec<Vec<usize>>,
    /// `dependents[n]`: the nodes that depend on `n` (sorted).
    pub dependents: Vec<Vec<usize>>,
    /// Every node, dependencies first; ties broken by URN.
    pub order: Vec<usize>,
}

impl Graph {
    /// Builds and validates the graph. All problems are returned together.
    pub fn build(program: &Program, prior: Option<&Snapshot>) -> Result<Graph, Vec<Diagnostic>> {
        let mut diags = Vec::new();
        let NodeSet { nodes, index, .. } = nodes(program, prior, &mut diags);
        let deps = edges(program, prior, &nodes, &index, &mut diags);
        diags.extend(cycles(&nodes, &deps));
        if diags.iter().any(Diagnostic::is_error) {
            return Err(diags);
        }
        let order = topological_order(&nodes, &deps);
        let mut dependents = vec![Vec::new(); nodes.len()];
        for (n, ds) in deps.iter().enumerate() {
            for &d in ds {
                dependents[d].push(n);
            }
        }
        let deps = deps.into_iter().map(|s| s.into_iter().collect()).collect();
        Ok(Graph { nodes, index, deps, dependents, order })
    }

    /// The index of the node with this URN, if the graph has it.
    pub fn node_index(&self, urn: &Urn) -> Option<usize> {
        self.index.get(urn).copied()
    }

    /// The nodes in `roots` plus everything they depend on, transitively.
    pub fn with_dependencies(&self, roots: impl IntoIterator<Item = usize>) -> BTreeSet<usize> {
        let mut out = BTreeSet::new();
        let mut stack: Vec<usize> = roots.into_iter().collect();
        while let Some(n) = stack.pop() {
            if out.insert(n) {
                stack.extend(self.deps[n].iter().copied());
            }
        }
        out
    }

    /// Deterministic text form: one line per node in topological order, with its dependencies.
    pub fn render_text(&self) -> String {
        let mut out = String::new();
        for &n in &self.order {
            let node = &self.nodes[n];
            let _ = write!(out, "{} [{}]", node.urn, kind_name(node.kind));
            let deps: Vec<&str> = self.deps[n].iter().map(|&d| self.nodes[d].urn.as_str()).collect();
            if !deps.is_empty() {
                let _ = write!(out, " <- {}", deps.join(", "));
            }
            out.push('\n');
        }
        out
    }

    /// Graphviz DOT export (`graph` command).
    pub fn render_dot(&self) -> String {
        let mut out = String::from("digraph strake {\n  rankdir = LR;\n");
        for &n in &self.order {
            let node = &self.nodes[n];
            let shape = match node.kind {
                NodeKind::Provider => "diamond",
                NodeKind::DataSource => "ellipse",
                NodeKind::Resource => "box",
                NodeKind::Removed => "box, style=dashed",
            };
            let label = format!("{}\\n{}", node.urn.type_token(), node.urn.name());
            let _ = writeln!(out, "  n{n} [label=\"{}\", shape={shape}];", label.replace('"', "\\\""));
        }
        for &n in &self.order {
            for &d in &self.deps[n] {
                let _ = writeln!(out, "  n{d} -> n{n};");
            }
        }
        out.push_str("}\n");
        out
    }
}

/// Nodes with their index, refusing duplicate URNs.
/// The nodes: provider configurations, declared resources and data sources, and a `Removed` node
/// for every recorded resource the program no longer declares.
fn nodes(program: &Program, prior: Option<&Snapshot>, diags: &mut Vec<Diagnostic>) -> NodeSet {
    let mut b = NodeSet::default();
    for (i, p) in program.providers.iter().enumerate() {
        let node = Node { urn: p.urn.clone(), kind: NodeKind::Provider, provider: None, decl: Some(i) };
        b.add(node, p.location.to_string(), diags);
    }
    let providers_by_package: BTreeMap<&str, Vec<&Urn>> = program.providers.iter().fold(BTreeMap::new(), |mut m, p| {
        m.entry(p.package.as_str()).or_default().push(&p.urn);
        m
    });
    for (i, d) in program.resources.iter().enumerate() {
        let kind = match d.kind {
            DeclKind::Resource => NodeKind::Resource,
            DeclKind::DataSource => NodeKind::DataSource,
        };
        let provider = resolve_provider(&d.urn, d.options.provider.as_ref(), &providers_by_package, diags);
        let node = Node { urn: d.urn.clone(), kind, provider, decl: Some(i) };
        b.add(node, d.location.to_string(), diags);
    }
    for r in prior.iter().flat_map(|s| s.resources.iter()).filter(|r| r.kind == RecordKind::Resource) {
        let Ok(urn) = Urn::parse(&r.urn) else { continue };
        if !b.index.contains_key(&urn) {
            let provider = r.provider.as_deref().and_then(|p| Urn::parse(p).ok());
            let node = Node { urn: urn.clone(), kind: NodeKind::Removed, provider, decl: None };
            b.add(node, "state".into(), diags);
        }
    }
    b
}

/// `deps[n]`: what node `n` waits for. Declared nodes wait for their inputs' resources and their
/// provider; a removed node, for what state recorded it depended on, among what still exists.
fn edges(
    program: &Program,
    prior: Option<&Snapshot>,
    nodes: &[Node],
    index: &HashMap<Urn, usize>,
    diags: &mut Vec<Diagnostic>,
) -> Vec<BTreeSet<usize>> {
    let mut deps: Vec<BTreeSet<usize>> = vec![BTreeSet::new(); nodes.len()];
    for (n, node) in nodes.iter().enumerate() {
        let wanted: BTreeSet<Urn> = match (node.kind, node.decl) {
            (NodeKind::Provider, Some(i)) => program.providers[i].config.dependencies().iter().cloned().collect(),
            (NodeKind::Resource | NodeKind::DataSource, Some(i)) => {
                let mut d = program.resources[i].dependencies();
                d.extend(node.provider.iter().cloned());
                d
            }
            _ => {
                let rec = prior.and_then(|s| s.resources.iter().find(|r| r.urn == node.urn.as_str()));
                let mut d: BTreeSet<Urn> = rec.map(|r| r.dependencies.iter().filter_map(|u| Urn::parse(u).ok()).collect()).unwrap_or_default();
                d.extend(node.provider.iter().cloned());
                d.retain(|u| index.contains_key(u));
                d
            }
        };
        for dep in wanted {
            match index.get(&dep) {
                Some(&m) if m != n || node.kind != NodeKind::Removed => {
                    deps[n].insert(m);
                }
                Some(_) => {}
                None => diags.push(Diagnostic::error(
                    Some(&node.urn),
                    None,
                    format!("depends on `{dep}`, which the program does not declare; declare it or remove the dependency"),
                )),
            }
        }
    }
    deps
}

/// One error per dependency cycle, naming its members. Kosaraju walks iteratively, so a chain of
/// 100,000 resources cannot overflow the stack.
fn cycles(nodes: &[Node], deps: &[BTreeSet<usize>]) -> Vec<Diagnostic> {
    let mut g: DiGraph<usize, ()> = DiGraph::with_capacity(nodes.len(), 0);
    let ids: Vec<NodeIndex> = (0..nodes.len()).map(|n| g.add_node(n)).collect();
    for (n, ds) in deps.iter().enumerate() {
        for &d in ds {
            g.add_edge(ids[d], ids[n], ());
        }
    }
    let mut diags = Vec::new();
    for scc in petgraph::algo::kosaraju_scc(&g) {
        if scc.len() > 1 || scc.iter().any(|&i| g.contains_edge(i, i)) {
            let mut members: Vec<&str> = scc.iter().map(|&i| nodes[g[i]].urn.as_str()).collect();
            members.sort_unstable();
            diags.push(Diagnostic::error(
                None,
                None,
                format!("dependency cycle between {}; break it by removing one of the dependencies", members.join(", ")),
            ));
        }
    }
    diags
}

#[derive(Default)]
struct NodeSet {
    nodes: Vec<Node>,
    index: HashMap<Urn, usize>,
    seen_at: HashMap<Urn, String>,
}

impl NodeSet {
    fn add(&mut self, node: Node, at: String, diags: &mut Vec<Diagnostic>) {
        if let Some(first) = self.seen_at.get(&node.urn) {
            diags.push(Diagnostic::error(Some(&node.urn), None, format!("declared twice, at {first} and at {at}; give each resource a unique name")));
            return;
        }
        self.seen_at.insert(node.urn.clone(), at);
        self.index.insert(node.urn.clone(), self.nodes.len());
        self.nodes.push(node);
    }
}

fn kind_name(kind: NodeKind) -> &'static str {
    match kind {
        NodeKind::Provider => "provider",
        NodeKind::Resource => "resource",
        NodeKind::DataSource => "data",
        NodeKind::Removed => "removed",
    }
}

fn resolve_provider(urn: &Urn, explicit: Option<&Urn>, by_package: &BTreeMap<&str, Vec<&Urn>>, diags: &mut Vec<Diagnostic>) -> Option<Urn> {
    let package = package_of(urn.type_token());
    if let Some(p) = explicit {
        let provider_package = p.type_token().strip_prefix("strake:provider:").unwrap_or("");
        if provider_package != package {
            diags.push(Diagnostic::error(
                Some(urn),
                Some("provider"),
                format!(
                    "provider `{}` serves package `{provider_package}`, but this resource belongs to `{package}`; pass a `{package}` provider",
                    p.name()
                ),
            ));
        }
        return Some(p.clone());
    }
    if package == builtin::PACKAGE {
        return None;
    }
    match by_package.get(package).map(Vec::as_slice) {
        Some([only]) => Some((*only).clone()),
        Some(many) => {
            let names: Vec<&str> = many.iter().map(|u| u.name()).collect();
            diags.push(Diagnostic::error(
                Some(urn),
                Some("provider"),
                format!("several `{package}` providers are declared ({}); choose one with `.provider(&...)`", names.join(", ")),
            ));
            None
        }
        None => {
            diags.push(Diagnostic::error(
                Some(urn),
                Some("provider"),
                format!("no `{package}` provider is declared; declare one with `stack.provider(...)` and pass it"),
            ));
            None
        }
    }
}

/// Kahn's algorithm with a URN-ordered ready set, so the order is stable across runs.
fn topological_order(nodes: &[Node], deps: &[BTreeSet<usize>]) -> Vec<usize> {
    let mut remaining: Vec<usize> = deps.iter().map(BTreeSet::len).collect();
    let mut dependents = vec![Vec::new(); nodes.len()];
    for (n, ds) in deps.iter().enumerate() {
        for &d in ds {
            dependents[d].push(n);
        }
    }
    let mut ready: BTreeSet<(&str, usize)> = (0..nodes.len()).filter(|&n| remaining[n] == 0).map(|n| (nodes[n].urn.as_str(), n)).collect();
    let mut order = Vec::with_capacity(nodes.len());
    while let Some((_, n)) = ready.pop_first() {
        order.push(n);
        for &m in &dependents[n] {
            remaining[m] -= 1;
            if remaining[m] == 0 {
                ready.insert((nodes[m].urn.as_str(), m));
            }
        }
    }
    order
}

#[cfg(test)]
mod tests;
