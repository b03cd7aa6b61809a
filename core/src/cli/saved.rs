//! Saved plans (`plan --out FILE`, `apply FILE`): with a key provider set, every secret in the
//! file is sealed under the stack's data key, bound to its place in the file.

use std::path::Path;

use strake_state::secrets::{CIPHERTEXT_MARKER, DataKey};

use crate::error::Error;
use crate::plan::Plan;

/// What the seal of a saved plan's values names as their owner.
const OWNER: &str = "saved plan";

/// The file's bytes.
pub(super) fn seal(plan: &Plan, key: Option<&DataKey>) -> Result<Vec<u8>, Error> {
    let mut json = serde_json::to_value(plan).map_err(|e| Error::Internal(e.to_string()))?;
    if let Some(key) = key {
        key.seal(&plan.stack, OWNER, "", &mut json);
    }
    serde_json::to_vec_pretty(&json).map_err(|e| Error::Internal(e.to_string()))
}

/// The plan a file holds, its secrets opened.
pub(super) fn open(file: &Path, bytes: &[u8], stack: &str, key: Option<&DataKey>) -> Result<Plan, Error> {
    let not_a_plan = |e: String| {
        let looks_like_json_output = serde_json::from_slice::<serde_json::Value>(bytes).is_ok_and(|v| v.get("has_changes").is_some());
        if looks_like_json_output {
            Error::PlanFile(format!(
                "{} is the output of `plan --json`, which is for reading, not applying; save a plan to apply with `plan --out FILE`",
                file.display()
            ))
        } else {
            Error::PlanFile(format!("{} is not a saved Strake plan (save one with `plan --out FILE`): {e}", file.display()))
        }
    };
    let mut json: serde_json::Value = serde_json::from_slice(bytes).map_err(|e| not_a_plan(e.to_string()))?;
    match key {
        Some(key) => key.open(stack, OWNER, "", &mut json).map_err(|e| Error::PlanFile(format!("{}: {e}", file.display())))?,
        None if json.to_string().contains(CIPHERTEXT_MARKER) => {
            return Err(Error::PlanFile(format!(
                "{} holds sealed secrets, but no key provider is set: add the stack's `[secrets] provider` to Strake.toml",
                file.display()
            )));
        }
        None => {}
    }
    serde_json::from_value(json).map_err(|e| not_a_plan(e.to_string()))
}
