//! [`Value::share_strings_of`]: one copy of the long texts two values have in common.

use std::sync::Arc;

use super::Value;

/// Texts shorter than this are not worth looking up.
const LONG: usize = 32;
/// At most this many of the other value's texts are looked at (a linear search each).
const MOST: usize = 16;

impl Value {
    /// Makes the long strings of `self` that `other` also has share `other`'s copy of the text.
    ///
    /// The value is unchanged (`==` before and after); only the memory it holds changes. A
    /// resource's outputs often repeat its inputs, and a plan holds both for every resource.
    pub fn share_strings_of(&mut self, other: &Value) {
        let mut texts = Vec::new();
        long_strings(other, &mut texts);
        if !texts.is_empty() {
            share(self, &texts);
        }
    }
}

fn long_strings<'a>(value: &'a Value, out: &mut Vec<&'a Arc<str>>) {
    if out.len() >= MOST {
        return;
    }
    match value {
        Value::String(s) if s.len() >= LONG => out.push(s),
        Value::List(items) => items.iter().for_each(|v| long_strings(v, out)),
        Value::Map(map) => map.values().for_each(|v| long_strings(v, out)),
        Value::Secret(inner) => long_strings(inner, out),
        _ => {}
    }
}

fn share(value: &mut Value, texts: &[&Arc<str>]) {
    match value {
        Value::String(s) if s.len() >= LONG => {
            if let Some(same) = texts.iter().find(|t| !Arc::ptr_eq(t, s) && t.as_bytes() == s.as_bytes()) {
                *s = Arc::clone(same);
            }
        }
        Value::List(items) => items.iter_mut().for_each(|v| share(v, texts)),
        Value::Map(map) => map.values_mut().for_each(|v| share(v, texts)),
        Value::Secret(inner) => share(inner, texts),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        outputs.share_strings_of(&inputs);
        assert_eq!(outputs, before);
        let text = |v: &Value, path: &[&str]| -> Arc<str> {
            let mut at = v;
            for key in path {
                at = at.get(key).unwrap();
            }
            match at {
                Value::String(s) => s.clone(),
                other => panic!("{other:?}"),
            }
        };
        let shared = text(&inputs, &["doc"]);
        assert!(Arc::ptr_eq(&text(&outputs, &["doc"]), &shared));
        let Some(Value::List(items)) = outputs.get("list") else { panic!() };
        let Value::Secret(inner) = &items[0] else { panic!() };
        assert!(matches!(&**inner, Value::String(s) if Arc::ptr_eq(s, &shared)));
        assert!(!Arc::ptr_eq(&text(&outputs, &["other"]), &shared));
        assert!(!Arc::ptr_eq(&text(&outputs, &["short"]), &text(&inputs, &["short"])), "short texts are left alone");
    }
}
