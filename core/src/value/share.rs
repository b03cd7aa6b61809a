//! [`Value::share_parts_of`]: one copy of what two values have in common.

use std::sync::Arc;

use super::{Map, Value};

/// Texts shorter than this are not worth looking up.
const LONG: usize = 32;
/// At most this many of the other value's parts are looked at (a linear search each).
const MOST: usize = 16;

impl Value {
    /// Makes the parts of `self` that `other` also has share `other`'s copy: a map equal to one
    /// of `other`'s maps becomes a copy of it (which shares its entries), and so does a long
    /// string, wherever in `other` it is.
    ///
    /// The value is unchanged (`==` before and after); only the memory it holds changes. A
    /// resource's outputs often repeat its inputs, an unchanged resource's planned inputs repeat
    /// its recorded ones, and a plan holds all of them for every resource.
    pub fn share_parts_of(&mut self, other: &Value) {
        let mut parts = Vec::new();
        collect_parts(other, &mut parts);
        if let Some(shared) = shared(self, &parts) {
            *self = shared;
        }
    }
}

/// The maps and long strings of `value`, outermost first, at most [`MOST`].
fn collect_parts<'a>(value: &'a Value, out: &mut Vec<&'a Value>) {
    if out.len() >= MOST {
        return;
    }
    match value {
        Value::String(s) if s.len() >= LONG => out.push(value),
        Value::Map(map) if !map.is_empty() => {
            out.push(value);
            map.values().for_each(|v| collect_parts(v, out));
        }
        Value::List(items) => items.iter().for_each(|v| collect_parts(v, out)),
        Value::Secret(inner) => collect_parts(inner, out),
        _ => {}
    }
}

/// `value` made of the parts it has in common with `parts`; `None` when that changes nothing (it
/// shares them already, or has none of them), so that nothing is copied for nothing.
fn shared(value: &Value, parts: &[&Value]) -> Option<Value> {
    match value {
        Value::String(s) if s.len() >= LONG => parts.iter().find_map(|p| match p {
            Value::String(t) if !Arc::ptr_eq(t, s) && t == s => Some(Value::String(Arc::clone(t))),
            _ => None,
        }),
        Value::Map(map) if !map.is_empty() => {
            let same = parts.iter().find_map(|p| match p {
                Value::Map(other) if other.len() == map.len() && other == map => Some(other),
                _ => None,
            });
            match same {
                Some(other) if other.shares_entries_with(map) => None,
                Some(other) => Some(Value::Map(other.clone())),
                None => {
                    let inner: Vec<Option<Value>> = map.values().map(|v| shared(v, parts)).collect();
                    inner.iter().any(Option::is_some).then(|| {
                        let entries = map.iter().zip(inner).map(|((k, v), new)| (k.clone(), new.unwrap_or_else(|| v.clone())));
                        Value::Map(entries.collect::<Map>())
                    })
                }
            }
        }
        Value::List(items) => {
            let inner: Vec<Option<Value>> = items.iter().map(|v| shared(v, parts)).collect();
            inner.iter().any(Option::is_some).then(|| Value::List(items.iter().zip(inner).map(|(v, new)| new.unwrap_or_else(|| v.clone())).collect()))
        }
        Value::Secret(inner) => shared(inner, parts).map(|v| Value::Secret(Box::new(v))),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at<'a>(v: &'a Value, path: &[&str]) -> &'a Value {
        path.iter().fold(v, |at, key| at.get(key).unwrap())
    }

    fn text(v: &Value) -> &Arc<str> {
        match v {
            Value::String(s) => s,
            other => panic!("{other:?}"),
        }
    }

    fn map(v: &Value) -> &Map {
        match v {
            Value::Map(m) => m,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn equal_long_texts_end_up_as_one_copy_and_nothing_else_changes() {
        let long = "a document long enough to be worth sharing";
        let inputs = Value::from_pairs([("doc", Value::from(long)), ("short", Value::from("x"))]);
        let mut outputs = Value::from_pairs([
            ("doc", Value::from(long)),
            ("list", Value::List(vec![Value::Secret(Box::new(Value::from(long)))])),
            ("other", Value::from(format!("{long}, but not the same"))),
            ("short", Value::from("x")),
        ]);
        let before = outputs.clone();
        outputs.share_parts_of(&inputs);
        assert_eq!(outputs, before);
        let shared = text(at(&inputs, &["doc"]));
        assert!(Arc::ptr_eq(text(at(&outputs, &["doc"])), shared));
        let Some(Value::List(items)) = outputs.get("list") else { panic!() };
        let Value::Secret(inner) = &items[0] else { panic!() };
        assert!(Arc::ptr_eq(text(inner), shared));
        assert!(!Arc::ptr_eq(text(at(&outputs, &["other"])), shared));
        assert!(!Arc::ptr_eq(text(at(&outputs, &["short"])), text(at(&inputs, &["short"]))), "short texts are left alone");
        assert!(!map(&before).shares_entries_with(map(&outputs)), "a value that changed is a new one; its copies are unchanged");
    }

    #[test]
    fn an_equal_map_anywhere_in_the_other_value_becomes_a_copy_of_it() {
        let inner = || Value::from_pairs([("payload", Value::from("p")), ("upstream", Value::from("u"))]);
        let inputs = Value::from_pairs([("input", inner())]);
        let mut outputs = Value::from_pairs([("id", Value::from("i")), ("output", inner())]);
        let before = outputs.clone();
        outputs.share_parts_of(&inputs);
        assert_eq!(outputs, before);
        assert!(map(at(&outputs, &["output"])).shares_entries_with(map(at(&inputs, &["input"]))));

        let mut planned = Value::from_pairs([("input", inner())]);
        planned.share_parts_of(&inputs);
        assert!(map(&planned).shares_entries_with(map(&inputs)), "an equal value is shared whole");

        let unchanged = planned.clone();
        planned.share_parts_of(&inputs);
        assert!(map(&planned).shares_entries_with(map(&unchanged)), "what is shared already is not copied again");

        let mut different = Value::from_pairs([("input", Value::from_pairs([("payload", Value::from("q"))]))]);
        let copy = different.clone();
        different.share_parts_of(&inputs);
        assert!(map(&different).shares_entries_with(map(&copy)), "nothing in common: nothing is copied");
    }
}
