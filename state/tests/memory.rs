//! The conformance suite against [`MemoryStore`].

use strake_state::{MemoryStore, StateStore, conformance};

#[test]
fn memory_store_passes_conformance() {
    conformance::run_all(&|| Box::new(MemoryStore::new()) as Box<dyn StateStore>);
}
