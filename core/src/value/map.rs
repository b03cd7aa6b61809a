//! [`Map`]: the map of a [`Value::Map`], its entries kept sorted by key in one vector.
//!
//! Most maps in resource properties hold a handful of keys. A `BTreeMap` gives each one a node of
//! eleven slots (about 640 bytes for string keys and values); this map allocates only the entries
//! it holds, which matters when a plan keeps several values of every resource of a large stack.

use std::fmt;

use super::Value;

/// Up to this many keys, a map grows one entry at a time.
const SMALL: usize = 8;

/// A map with string keys, iterated in key order (as a `BTreeMap` is).
#[derive(Clone, Default, PartialEq)]
pub struct Map {
    entries: Vec<(String, Value)>,
}

impl Map {
    /// An empty map.
    pub fn new() -> Map {
        Map { entries: Vec::new() }
    }

    fn find(&self, key: &str) -> Result<usize, usize> {
        self.entries.binary_search_by(|(k, _)| k.as_str().cmp(key))
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
        self.find(key).ok().map(|i| &mut self.entries[i].1)
    }

    /// Whether it has `key`.
    pub fn contains_key(&self, key: &str) -> bool {
        self.find(key).is_ok()
    }

    /// Sets `key` to `value`; returns the value it replaced. A key that sorts before others moves
    /// them: build a large map by collecting its entries (sorted once) rather than key by key.
    pub fn insert(&mut self, key: impl Into<String>, value: Value) -> Option<Value> {
        let key = key.into();
        match self.find(&key) {
            Ok(i) => Some(std::mem::replace(&mut self.entries[i].1, value)),
            Err(i) => {
                // Small maps, the most common, hold no spare room: a map of one key grown the
                // usual way would keep room for four.
                if self.entries.len() < SMALL {
                    self.entries.reserve_exact(1);
                }
                self.entries.insert(i, (key, value));
                None
            }
        }
    }

    /// Removes `key`; returns its value.
    pub fn remove(&mut self, key: &str) -> Option<Value> {
        self.find(key).ok().map(|i| self.entries.remove(i).1)
    }

    /// Keeps the entries for which `keep` says so.
    pub fn retain(&mut self, mut keep: impl FnMut(&String, &mut Value) -> bool) {
        self.entries.retain_mut(|(k, v)| keep(k, v));
    }

    /// The value under `key`, inserted by `default` when missing.
    pub fn get_or_insert_with(&mut self, key: &str, default: impl FnOnce() -> Value) -> &mut Value {
        let i = match self.find(key) {
            Ok(i) => i,
            Err(i) => {
                self.entries.insert(i, (key.to_string(), default()));
                i
            }
        };
        &mut self.entries[i].1
    }

    /// The entries, in key order.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = (&String, &Value)> + ExactSizeIterator {
        self.entries.iter().map(|(k, v)| (k, v))
    }

    /// The entries, in key order, with their values to change.
    pub fn iter_mut(&mut self) -> impl DoubleEndedIterator<Item = (&String, &mut Value)> + ExactSizeIterator {
        self.entries.iter_mut().map(|(k, v)| (&*k, v))
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
        self.entries.iter_mut().map(|(_, v)| v)
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
        entries.shrink_to_fit();
        Map { entries }
    }
}

impl<K: Into<String>> Extend<(K, Value)> for Map {
    fn extend<I: IntoIterator<Item = (K, Value)>>(&mut self, items: I) {
        let entries = std::mem::take(&mut self.entries);
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
        Map { entries: map.into_iter().collect() }
    }
}

impl IntoIterator for Map {
    type Item = (String, Value);
    type IntoIter = std::vec::IntoIter<(String, Value)>;

    fn into_iter(self) -> Self::IntoIter {
        self.entries.into_iter()
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
        self.entries.iter_mut().map(|(k, v)| (&*k, v))
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
}
