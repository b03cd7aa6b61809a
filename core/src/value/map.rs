//! [`Map`]: the map of a [`Value::Map`], its entries kept sorted by key in one shared slice.
//!
//! Most maps in resource properties hold a handful of keys. A `BTreeMap` gives each one a node of
//! eleven slots (about 640 bytes for string keys and values); this map allocates only the entries
//! it holds, which matters when a plan keeps several values of every resource of a large stack.
//! A copy shares the entries (a plan copies values between state, its steps and the values
//! dependents see); a change to a shared map copies its entries first.

use std::fmt;
use std::sync::{Arc, LazyLock};

use super::Value;

type Entries = Arc<[(String, Value)]>;

/// A map with string keys, iterated in key order (as a `BTreeMap` is). Cloning it is cheap: the
/// clone shares the entries until one of the two is changed.
#[derive(Clone)]
pub struct Map {
    entries: Entries,
}

impl Default for Map {
    fn default() -> Map {
        Map::new()
    }
}

impl PartialEq for Map {
    fn eq(&self, other: &Map) -> bool {
        self.shares_entries_with(other) || self.entries == other.entries
    }
}

impl Map {
    /// An empty map.
    pub fn new() -> Map {
        // Every empty map shares one allocation.
        static EMPTY: LazyLock<Entries> = LazyLock::new(|| Arc::from([]));
        Map { entries: Arc::clone(&EMPTY) }
    }

    /// Whether the two are copies of one map: the same entries, not merely equal ones.
    pub(crate) fn shares_entries_with(&self, other: &Map) -> bool {
        Arc::ptr_eq(&self.entries, &other.entries)
    }

    fn find(&self, key: &str) -> Result<usize, usize> {
        self.entries.binary_search_by(|(k, _)| k.as_str().cmp(key))
    }

    /// The entries to change in place: this map's own (copied first if another map shares them).
    fn entries_mut(&mut self) -> &mut [(String, Value)] {
        Arc::make_mut(&mut self.entries)
    }

    /// The entries as a vector to add or remove some; the map holds exactly what it has after.
    fn edit<R>(&mut self, change: impl FnOnce(&mut Vec<(String, Value)>) -> R) -> R {
        let mut entries = self.take_entries();
        let result = change(&mut entries);
        self.entries = Arc::from(entries);
        result
    }

    /// The entries, moved out when no other map shares them, else copied.
    fn take_entries(&mut self) -> Vec<(String, Value)> {
        match Arc::get_mut(&mut self.entries) {
            Some(own) => own.iter_mut().map(std::mem::take).collect(),
            None => self.entries.to_vec(),
        }
    }

    /// How many keys it has.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether it has no keys.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The value under `key`.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.find(key).ok().map(|i| &self.entries[i].1)
    }

    /// The value under `key`, to change it.
    pub fn get_mut(&mut self, key: &str) -> Option<&mut Value> {
        let i = self.find(key).ok()?;
        Some(&mut self.entries_mut()[i].1)
    }

    /// Whether it has `key`.
    pub fn contains_key(&self, key: &str) -> bool {
        self.find(key).is_ok()
    }

    /// Sets `key` to `value`; returns the value it replaced. A new key reallocates the entries:
    /// build a map of more than a few keys by collecting its entries rather than key by key.
    pub fn insert(&mut self, key: impl Into<String>, value: Value) -> Option<Value> {
        let key = key.into();
        match self.find(&key) {
            Ok(i) => Some(std::mem::replace(&mut self.entries_mut()[i].1, value)),
            Err(i) => {
                self.edit(|entries| entries.insert(i, (key, value)));
                None
            }
        }
    }

    /// Removes `key`; returns its value.
    pub fn remove(&mut self, key: &str) -> Option<Value> {
        let i = self.find(key).ok()?;
        Some(self.edit(|entries| entries.remove(i).1))
    }

    /// Keeps the entries for which `keep` says so.
    pub fn retain(&mut self, mut keep: impl FnMut(&String, &mut Value) -> bool) {
        self.edit(|entries| entries.retain_mut(|(k, v)| keep(k, v)));
    }

    /// The value under `key`, inserted by `default` when missing.
    pub fn get_or_insert_with(&mut self, key: &str, default: impl FnOnce() -> Value) -> &mut Value {
        let i = match self.find(key) {
            Ok(i) => i,
            Err(i) => {
                self.edit(|entries| entries.insert(i, (key.to_string(), default())));
                i
            }
        };
        &mut self.entries_mut()[i].1
    }

    /// The entries, in key order.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = (&String, &Value)> + ExactSizeIterator {
        self.entries.iter().map(|(k, v)| (k, v))
    }

    /// The entries, in key order, with their values to change.
    pub fn iter_mut(&mut self) -> impl DoubleEndedIterator<Item = (&String, &mut Value)> + ExactSizeIterator {
        self.entries_mut().iter_mut().map(|(k, v)| (&*k, v))
    }

    /// The keys, in order.
    pub fn keys(&self) -> impl DoubleEndedIterator<Item = &String> + ExactSizeIterator {
        self.entries.iter().map(|(k, _)| k)
    }

    /// The values, in key order.
    pub fn values(&self) -> impl DoubleEndedIterator<Item = &Value> + ExactSizeIterator {
        self.entries.iter().map(|(_, v)| v)
    }

    /// The values, in key order, to change.
    pub fn values_mut(&mut self) -> impl DoubleEndedIterator<Item = &mut Value> + ExactSizeIterator {
        self.entries_mut().iter_mut().map(|(_, v)| v)
    }
}

impl fmt::Debug for Map {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl<K: Into<String>> FromIterator<(K, Value)> for Map {
    /// A later entry for a key replaces an earlier one, as in a `BTreeMap`.
    fn from_iter<I: IntoIterator<Item = (K, Value)>>(items: I) -> Map {
        let mut entries: Vec<(String, Value)> = items.into_iter().map(|(k, v)| (k.into(), v)).collect();
        if !entries.is_sorted_by(|a, b| a.0 < b.0) {
            // Stable: equal keys keep their order, and the last of them wins below.
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            entries.reverse();
            entries.dedup_by(|later, earlier| later.0 == earlier.0);
            entries.reverse();
        }
        if entries.is_empty() {
            return Map::new();
        }
        Map { entries: Arc::from(entries) }
    }
}

impl<K: Into<String>> Extend<(K, Value)> for Map {
    fn extend<I: IntoIterator<Item = (K, Value)>>(&mut self, items: I) {
        let entries = self.take_entries();
        *self = entries.into_iter().chain(items.into_iter().map(|(k, v)| (k.into(), v))).collect();
    }
}

impl<K: Into<String>, const N: usize> From<[(K, Value); N]> for Map {
    fn from(items: [(K, Value); N]) -> Map {
        items.into_iter().collect()
    }
}

impl From<std::collections::BTreeMap<String, Value>> for Map {
    fn from(map: std::collections::BTreeMap<String, Value>) -> Map {
        map.into_iter().collect()
    }
}

impl IntoIterator for Map {
    type Item = (String, Value);
    type IntoIter = std::vec::IntoIter<(String, Value)>;

    fn into_iter(mut self) -> Self::IntoIter {
        self.take_entries().into_iter()
    }
}

impl<'a> IntoIterator for &'a Map {
    type Item = (&'a String, &'a Value);
    type IntoIter = std::iter::Map<std::slice::Iter<'a, (String, Value)>, fn(&'a (String, Value)) -> (&'a String, &'a Value)>;

    fn into_iter(self) -> Self::IntoIter {
        self.entries.iter().map(|(k, v)| (k, v))
    }
}

impl<'a> IntoIterator for &'a mut Map {
    type Item = (&'a String, &'a mut Value);
    type IntoIter = std::iter::Map<std::slice::IterMut<'a, (String, Value)>, fn(&'a mut (String, Value)) -> (&'a String, &'a mut Value)>;

    fn into_iter(self) -> Self::IntoIter {
        self.entries_mut().iter_mut().map(|(k, v)| (&*k, v))
    }
}

impl std::ops::Index<&str> for Map {
    type Output = Value;

    fn index(&self, key: &str) -> &Value {
        self.get(key).unwrap_or_else(|| panic!("no key `{key}` in the map"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_stay_sorted_and_unique_whatever_the_order_of_insertion() {
        let mut m = Map::new();
        for (k, v) in [("b", 1), ("a", 2), ("c", 3), ("a", 4)] {
            m.insert(k, Value::from(v as i64));
        }
        assert_eq!(m.keys().map(String::as_str).collect::<Vec<_>>(), ["a", "b", "c"]);
        assert_eq!(m.get("a"), Some(&Value::from(4)));
        assert_eq!(m.remove("b"), Some(Value::from(1)));
        assert!(!m.contains_key("b") && m.len() == 2);

        let collected: Map = [("z", Value::Null), ("y", Value::from(1)), ("z", Value::from(2))].into_iter().collect();
        assert_eq!(collected.iter().map(|(k, v)| (k.as_str(), v.clone())).collect::<Vec<_>>(), [("y", Value::from(1)), ("z", Value::from(2))]);
        let same: Map = [("y", Value::from(1)), ("z", Value::from(2))].into();
        assert_eq!(collected, same, "equal maps compare equal however they were built");

        let mut extended = same.clone();
        extended.extend([("x", Value::Null), ("z", Value::from(3))]);
        assert_eq!(
            extended.iter().map(|(k, v)| (k.as_str(), v.clone())).collect::<Vec<_>>(),
            [("x", Value::Null), ("y", Value::from(1)), ("z", Value::from(3))]
        );
    }

    #[test]
    fn a_copy_shares_the_entries_until_either_is_changed() {
        let original: Map = [("a", Value::from(1)), ("b", Value::from(2))].into();
        let mut copy = original.clone();
        assert!(copy.shares_entries_with(&original));

        *copy.get_mut("a").unwrap() = Value::from(10);
        assert!(!copy.shares_entries_with(&original));
        assert_eq!(original.get("a"), Some(&Value::from(1)), "the original is unchanged");

        for change in [
            (|m: &mut Map| drop(m.insert("c", Value::Null))) as fn(&mut Map),
            |m| drop(m.remove("a")),
            |m| m.retain(|k, _| k == "b"),
            |m| {
                m.get_or_insert_with("d", || Value::Null);
            },
            |m| m.values_mut().for_each(|v| *v = Value::Null),
            |m| m.extend([("e", Value::Null)]),
        ] {
            let mut copy = original.clone();
            change(&mut copy);
            assert_ne!(copy, original);
            assert_eq!(original, [("a", Value::from(1)), ("b", Value::from(2))].into(), "the original is unchanged");
        }
        let owned: Vec<(String, Value)> = original.clone().into_iter().collect();
        assert_eq!(owned.len(), 2);
        assert!(Map::new().shares_entries_with(&Map::default()), "empty maps allocate nothing of their own");
    }
}
