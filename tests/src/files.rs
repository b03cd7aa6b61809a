//! What a run left on disk: the files under a directory, and those holding a given text.

use std::path::Path;

/// Every file under `dir`, as sorted paths relative to it.
pub fn files_under(dir: &Path) -> Vec<String> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("reading {}: {e}", dir.display())) {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(root, &path, out);
            } else {
                out.push(path.strip_prefix(root).unwrap().display().to_string());
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

/// The files under `dir` (relative to it) whose bytes contain `needle`.
pub fn files_holding(dir: &Path, needle: &str) -> Vec<String> {
    files_under(dir).into_iter().filter(|f| std::fs::read(dir.join(f)).unwrap().windows(needle.len()).any(|w| w == needle.as_bytes())).collect()
}
