//! The versioned record types that every backend stores. They are ours (plain serde), never a
//! backend's own format, so a stack can always be exported, imported and moved between backends.

use serde::{Deserialize, Serialize};

pub use crate::json_text::JsonText;

/// Bumped whenever a record changes shape; readers refuse versions newer than they know.
pub const FORMAT_VERSION: u32 = 1;

/// Per-stack metadata: which history this is (lineage) and how far along it is (serial).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StackMeta {
    /// The [`FORMAT_VERSION`] the state was written in.
    pub format_version: u32,
    /// The stack's name.
    pub stack: String,
    /// Random id fixed when the stack's state is first created; a saved plan from another lineage is refused.
    pub lineage: String,
    /// Incremented by every write batch that changes resources.
    pub serial: u64,
}

impl StackMeta {
    /// The metadata of a new stack: a fresh lineage, serial 0.
    pub fn new(stack: &str) -> Self {
        StackMeta { format_version: FORMAT_VERSION, stack: stack.to_string(), lineage: uuid::Uuid::new_v4().to_string(), serial: 0 }
    }
}

/// What kind of node a record is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RecordKind {
    /// A managed resource (created, updated and deleted by Strake).
    Resource,
    /// A provider configuration (stored so removed resources can still be deleted with it).
    Provider,
    /// The stack's exported outputs (one record per stack; `outputs` holds the map).
    StackOutputs,
    /// The stack's wrapped data key ([`secrets`](crate::secrets)); only the sealing layer reads it.
    SecretsKey,
}

/// The recorded state of one resource or provider configuration.
///
/// `inputs` and `outputs` are JSON values in Strake's value encoding (secrets wrapped as
/// `{"__strake_secret": <value>}`), kept as text; the state crate does not interpret them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResourceRecord {
    /// Logical identity: `urn:strake:<stack>::<type>::<name>`. The key of the record.
    pub urn: String,
    /// Whether this is a resource, a provider configuration or the stack's outputs.
    pub kind: RecordKind,
    /// Type token, e.g. `strake:index:Data` or `aws:iam:Role`.
    pub type_token: String,
    /// Physical id returned by the provider (empty for providers).
    pub id: String,
    /// The inputs the resource was last created or updated with.
    pub inputs: JsonText,
    /// The outputs the provider last returned.
    pub outputs: JsonText,
    /// URNs this resource depended on when it was last written (used to order deletes).
    #[serde(deserialize_with = "exact_size")]
    pub dependencies: Vec<String>,
    /// URN of the provider configuration that manages it (None for provider records).
    pub provider: Option<String>,
    /// The resource's `protect` option when last written: it must not be deleted or replaced.
    #[serde(default)]
    pub protect: bool,
    /// The resource's `retain_on_delete` option when last written: a delete forgets the record
    /// and leaves the cloud object in place.
    #[serde(default)]
    pub retain_on_delete: bool,
    /// The version of the resource type's schema its inputs and outputs are in (0 for types that
    /// never changed theirs); records of older versions are upgraded by their provider on load.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub schema_version: u32,
}

/// A list read with no spare room: decoding grows a list to four entries at its first, and a
/// loaded state holds one list per record.
fn exact_size<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    let mut list = <Vec<String> as serde::Deserialize>::deserialize(d)?;
    list.shrink_to_fit();
    Ok(list)
}

fn is_zero(v: &u32) -> bool {
    *v == 0
}

/// A provider mutation that was started but whose result was not recorded yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PendingKind {
    /// The provider's create.
    Create,
    /// The provider's update in place.
    Update,
    /// The provider's delete.
    Delete,
}

/// Written durably before a provider mutation and removed in the same batch that records its result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PendingOperation {
    /// Unique per operation (a URN can have two at once during a create-before-delete replace).
    pub id: String,
    /// The resource operated on.
    pub urn: String,
    /// Which mutation was started.
    pub kind: PendingKind,
    /// The resource's type token.
    pub type_token: String,
    /// The provider URN and the inputs sent, so the operation can be looked up again.
    pub provider: Option<String>,
    /// The inputs sent to the provider.
    pub inputs: JsonText,
    /// The outputs recorded before the operation (update/delete), so a delete can be finished later.
    #[serde(default)]
    pub outputs: JsonText,
    /// The physical id involved, when known (update/delete).
    pub resource_id: Option<String>,
    /// Unix seconds.
    pub started_at: u64,
}

/// Everything a backend holds for one stack.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    /// The stack's lineage and serial.
    pub meta: StackMeta,
    /// Sorted by URN.
    pub resources: Vec<ResourceRecord>,
    /// Sorted by id.
    pub pending: Vec<PendingOperation>,
}

impl Snapshot {
    /// A new stack with no resources and no pending operations.
    pub fn empty(stack: &str) -> Self {
        Snapshot { meta: StackMeta::new(stack), resources: Vec::new(), pending: Vec::new() }
    }
}

/// One change in a write batch. A batch is applied atomically and is durable when `write` returns.
///
/// Changes apply in order, so a later change to the same key wins. Deleting an unknown resource or
/// clearing an unknown pending operation is not an error.
///
/// Encoded as an object tagged by `op` (`{"op": "put_resource", "urn": ...}`), tag first. Its
/// decoding (module `write_de`) reads the fields after a leading tag in place, where serde's
/// own decoding of a tagged enum would copy the whole object into a buffer first.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "op", rename_all = "snake_case", remote = "Self")]
pub enum Write {
    /// Stores a record, replacing the one with the same URN.
    PutResource(ResourceRecord),
    /// Removes a resource's record.
    DeleteResource {
        /// The record's URN.
        urn: String,
    },
    /// Records an operation about to start.
    PutPending(PendingOperation),
    /// Removes a pending operation once its result is recorded.
    ClearPending {
        /// The operation's id.
        id: String,
    },
}

impl Write {
    /// Whether this change touches a resource record (and so counts toward `meta.serial`).
    pub fn changes_resources(&self) -> bool {
        match self {
            // The stack's data key is kept as a record, but making one changes no resource.
            Write::PutResource(r) => r.kind != RecordKind::SecretsKey,
            Write::DeleteResource { .. } => true,
            Write::PutPending(_) | Write::ClearPending { .. } => false,
        }
    }
}

/// A state a stack can be restored to (`state history`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RestorePoint {
    /// Counts every commit of the stack's history; what `restore` takes.
    pub generation: u64,
    /// The stack's serial in that state.
    pub serial: u64,
    /// Unix seconds.
    pub time: u64,
    /// What made it: the run whose last commit it is (`` `apply` ``), or why a snapshot was written.
    pub made_by: String,
    /// How many records it holds.
    pub resources: usize,
    /// How many pending operations it holds.
    pub pending: usize,
}

/// Checks that a stack name is safe to use as a key and a file name: 1 to 128 ASCII letters,
/// digits, `-`, `_` or `.`, starting with a letter or digit.
pub fn validate_stack_name(stack: &str) -> Result<(), crate::StateError> {
    let valid_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.');
    let starts_well = stack.chars().next().is_some_and(|c| c.is_ascii_alphanumeric());
    if starts_well && stack.len() <= 128 && stack.chars().all(valid_char) {
        Ok(())
    } else {
        Err(crate::StateError::InvalidStackName { stack: stack.to_string() })
    }
}

/// Refuses metadata written by a newer Strake.
pub(crate) fn check_format_version(meta: &StackMeta) -> Result<(), crate::StateError> {
    if meta.format_version > FORMAT_VERSION {
        return Err(crate::StateError::UnsupportedVersion { stack: meta.stack.clone(), found: meta.format_version, supported: FORMAT_VERSION });
    }
    Ok(())
}

/// The metadata an `import` of `imported` stores over a stack whose metadata is `current`: the
/// imported lineage, with a serial past both the imported and the current one.
pub(crate) fn import_meta(imported: &StackMeta, current: Option<&StackMeta>) -> Result<StackMeta, crate::StateError> {
    validate_stack_name(&imported.stack)?;
    check_format_version(imported)?;
    let next = current.map_or(0, |meta| meta.serial) + 1;
    Ok(StackMeta {
        format_version: FORMAT_VERSION,
        stack: imported.stack.clone(),
        lineage: imported.lineage.clone(),
        serial: imported.serial.max(next),
    })
}
