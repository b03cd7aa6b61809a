//! Recorded resources as the planner and the executor see them: read from the state snapshot
//! when a node is planned, not all at once, so a plan holds the recorded values only of the
//! resources it changes.

use std::collections::HashMap;

use strake_state::{RecordKind, ResourceRecord, Snapshot};

use super::shared::recorded_resources;
use crate::{Urn, Value};

/// A recorded resource as the planner sees it (after refresh).
#[derive(Debug, Clone)]
pub(crate) struct Prior {
    pub id: String,
    pub inputs: Value,
    pub outputs: Value,
    /// The schema version of its type that the values are in.
    pub version: u32,
}

impl Prior {
    /// The resource as `record` holds it. Its inputs share the maps and long texts they have in
    /// common with `declared` (the inputs the program now gives it), and its outputs those they
    /// repeat from its inputs: a plan keeps one copy of what did not change.
    pub(crate) fn from_record(record: &ResourceRecord, declared: Option<&Value>) -> Prior {
        let mut inputs = Value::from(&record.inputs);
        if let Some(declared) = declared {
            inputs.share_parts_of(declared);
        }
        let mut outputs = Value::from(&record.outputs);
        outputs.share_parts_of(&inputs);
        Prior { id: record.id.clone(), inputs, outputs, version: record.schema_version }
    }
}

/// What refresh found for a recorded resource.
#[derive(Debug, Clone)]
pub(crate) enum Refreshed {
    Found(Prior),
    Gone,
}

impl Refreshed {
    /// The state write that records it: the record with the values read, or its removal.
    pub(crate) fn to_write(&self, recorded: &ResourceRecord) -> strake_state::Write {
        match self {
            Refreshed::Found(p) => strake_state::Write::PutResource(ResourceRecord {
                id: p.id.clone(),
                inputs: p.inputs.to_recorded(),
                outputs: p.outputs.to_recorded(),
                schema_version: p.version,
                ..recorded.clone()
            }),
            Refreshed::Gone => strake_state::Write::DeleteResource { urn: recorded.urn.clone() },
        }
    }
}

/// The record of resource `urn`, if state holds one. State keeps its records sorted by URN.
pub(crate) fn record_of<'a>(snapshot: &'a Snapshot, urn: &Urn) -> Option<&'a ResourceRecord> {
    let records = &snapshot.resources;
    let i = records.binary_search_by(|r| r.urn.as_str().cmp(urn.as_str())).ok()?;
    Some(&records[i]).filter(|r| r.kind == RecordKind::Resource)
}

/// Every recorded resource as a plan found it: upgraded to its type's schema version, then as
/// refresh read it; one refresh found gone is left out.
pub(crate) fn as_found(snapshot: &Snapshot, upgraded: &HashMap<Urn, Prior>, refreshed: &HashMap<Urn, Refreshed>) -> HashMap<Urn, Prior> {
    recorded_resources(snapshot)
        .filter_map(|(urn, record)| {
            let prior = match (refreshed.get(&urn), upgraded.get(&urn)) {
                (Some(Refreshed::Gone), _) => return None,
                (Some(Refreshed::Found(p)), _) | (None, Some(p)) => p.clone(),
                (None, None) => Prior::from_record(record, None),
            };
            Some((urn, prior))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(urn: &Urn, inputs: &Value, outputs: &Value) -> ResourceRecord {
        ResourceRecord {
            urn: urn.to_string(),
            kind: RecordKind::Resource,
            type_token: urn.type_token().to_string(),
            id: format!("id-{}", urn.name()),
            inputs: inputs.to_recorded(),
            outputs: outputs.to_recorded(),
            dependencies: Vec::new(),
            provider: None,
            protect: false,
            retain_on_delete: false,
            schema_version: 1,
        }
    }

    fn snapshot(records: Vec<ResourceRecord>) -> Snapshot {
        let mut s = Snapshot::empty("dev");
        s.resources = records;
        s.resources.sort_by(|a, b| a.urn.cmp(&b.urn));
        s
    }

    fn inputs(name: &str) -> Value {
        Value::from_pairs([("name", Value::from(name)), ("tags", Value::from_pairs([("team", Value::from("platform-engineering-infrastructure"))]))])
    }

    #[test]
    fn a_record_is_found_by_its_urn_and_only_a_resource_is() {
        let (a, b) = (Urn::new("dev", "t:m:T", "a"), Urn::new("dev", "t:m:T", "b"));
        let mut provider = record(&Urn::new("dev", "pulumi:providers:t", "p"), &Value::map(), &Value::map());
        provider.kind = RecordKind::Provider;
        let s = snapshot(vec![record(&b, &inputs("b"), &Value::map()), provider.clone(), record(&a, &inputs("a"), &Value::map())]);
        assert_eq!(record_of(&s, &a).map(|r| r.id.as_str()), Some("id-a"));
        assert_eq!(record_of(&s, &b).map(|r| r.id.as_str()), Some("id-b"));
        assert!(record_of(&s, &Urn::new("dev", "t:m:T", "c")).is_none());
        assert!(record_of(&s, &Urn::parse(&provider.urn).unwrap()).is_none(), "a provider's record is not a resource's");
    }

    #[test]
    fn a_prior_shares_what_it_has_in_common_with_the_declared_inputs() {
        let urn = Urn::new("dev", "t:m:T", "a");
        let outputs = Value::from_pairs([("arn", Value::from("arn:a")), ("tags", inputs("a").get("tags").cloned().unwrap())]);
        let r = record(&urn, &inputs("a"), &outputs);
        let declared = inputs("a");
        let prior = Prior::from_record(&r, Some(&declared));
        assert_eq!((prior.id.as_str(), &prior.inputs, &prior.outputs, prior.version), ("id-a", &declared, &outputs, 1));
        let (Value::Map(read), Value::Map(declared)) = (&prior.inputs, &declared) else { panic!("maps") };
        assert!(read.shares_entries_with(declared), "equal inputs are one copy");
        let (Some(Value::Map(in_outputs)), Some(Value::Map(in_inputs))) = (prior.outputs.get("tags"), prior.inputs.get("tags")) else {
            panic!("maps")
        };
        assert!(in_outputs.shares_entries_with(in_inputs), "outputs share the maps they repeat from inputs");
    }

    #[test]
    fn as_found_takes_refresh_over_upgrade_over_the_record_and_leaves_out_what_is_gone() {
        let [a, b, c, d] = ["a", "b", "c", "d"].map(|n| Urn::new("dev", "t:m:T", n));
        let s = snapshot([&a, &b, &c, &d].iter().map(|u| record(u, &inputs(u.name()), &Value::map())).collect());
        let prior = |id: &str| Prior { id: id.into(), inputs: Value::map(), outputs: Value::map(), version: 2 };
        let upgraded = HashMap::from([(a.clone(), prior("upgraded-a")), (b.clone(), prior("upgraded-b"))]);
        let refreshed = HashMap::from([(a.clone(), Refreshed::Found(prior("read-a"))), (c.clone(), Refreshed::Gone)]);
        let found = as_found(&s, &upgraded, &refreshed);
        let ids: std::collections::BTreeMap<&str, &str> = found.iter().map(|(u, p)| (u.name(), p.id.as_str())).collect();
        assert_eq!(ids, [("a", "read-a"), ("b", "upgraded-b"), ("d", "id-d")].into());
        assert_eq!(found[&d].inputs, inputs("d"));
    }
}
