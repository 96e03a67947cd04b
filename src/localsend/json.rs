//! JSON from the network, parsed with limits. A LocalSend body is whatever a stranger on the Wi-Fi
//! sends, so before `serde_json` sees a byte:
//!
//! * the body's size has been capped while it was read (the server never buffers more than the
//!   endpoint's limit, see `server`);
//! * [`check_shape`] walks the bytes once and refuses nesting deeper than [`MAX_DEPTH`] and any
//!   string longer than [`MAX_STRING_BYTES`] (a 30 MB "file name" is refused here, not copied);
//! * maps keyed by file id ([`BoundedMap`]) refuse a key listed twice and stop at
//!   [`MAX_FILES`] entries, so "a million files" costs one error, not a million allocations;
//! * structs refuse a field listed twice (serde's derive does that).
//!
//! Unknown fields are ignored, as LocalSend itself does, so newer clients keep working.

use std::collections::HashSet;
use std::fmt;
use std::marker::PhantomData;

use serde::de::{DeserializeOwned, MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Most files one offer may list (the same limit as Ferry's own protocol).
pub const MAX_FILES: usize = crate::protocol::MAX_FILES as usize;
/// Deepest nesting of objects and arrays. A prepare-upload body needs 4
/// (`{files:{id:{metadata:{...}}}}`); the rest is room for fields we do not know.
pub const MAX_DEPTH: usize = 16;
/// Longest string, escapes included. A text message is the longest thing LocalSend puts in one.
pub const MAX_STRING_BYTES: usize = 1024 * 1024;

/// Why a body was refused; all of them answer 400 ("Invalid body").
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JsonError {
    #[error("the JSON nests deeper than {MAX_DEPTH} levels")]
    TooDeep,
    #[error("a JSON string is longer than {MAX_STRING_BYTES} bytes")]
    StringTooLong,
    #[error("the JSON is not valid: {0}")]
    Invalid(String),
}

/// [`check_shape`], then serde.
pub fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, JsonError> {
    check_shape(bytes)?;
    serde_json::from_slice(bytes).map_err(|e| JsonError::Invalid(e.to_string()))
}

/// One pass over the raw bytes: nesting depth and string lengths, nothing else (serde checks
/// the grammar afterwards). Brackets inside strings do not count.
pub fn check_shape(bytes: &[u8]) -> Result<(), JsonError> {
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    let mut string_len = 0usize;
    for &b in bytes {
        if in_string {
            string_len += 1;
            if string_len > MAX_STRING_BYTES {
                return Err(JsonError::StringTooLong);
            }
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => {
                in_string = true;
                string_len = 0;
            }
            b'{' | b'[' => {
                depth += 1;
                if depth > MAX_DEPTH {
                    return Err(JsonError::TooDeep);
                }
            }
            b'}' | b']' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    Ok(())
}

/// A JSON object used as a map (file id → something), in the order it was sent. Refuses a key
/// given twice and more than [`MAX_FILES`] entries while parsing.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct BoundedMap<T>(pub Vec<(String, T)>);

impl<T> BoundedMap<T> {
    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &T)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v))
    }

    pub fn get(&self, key: &str) -> Option<&T> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }
}

impl<T: Serialize> Serialize for BoundedMap<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for BoundedMap<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<T>(PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for V<T> {
            type Value = BoundedMap<T>;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                write!(f, "an object with at most {MAX_FILES} entries")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                // Never trust the size hint: it is the sender's word.
                let mut out = Vec::with_capacity(map.size_hint().unwrap_or(0).min(1024));
                let mut seen = HashSet::new();
                while let Some(key) = map.next_key::<String>()? {
                    if out.len() == MAX_FILES {
                        return Err(serde::de::Error::custom(format!("more than {MAX_FILES} entries")));
                    }
                    if !seen.insert(key.clone()) {
                        return Err(serde::de::Error::custom(format!("the key {key:?} is listed twice")));
                    }
                    out.push((key, map.next_value()?));
                }
                Ok(BoundedMap(out))
            }
        }
        d.deserialize_map(V(PhantomData))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nesting_is_counted_outside_strings_only() {
        assert_eq!(check_shape(b"[[[[]]]]"), Ok(()));
        let deep = format!("{}{}", "[".repeat(MAX_DEPTH + 1), "]".repeat(MAX_DEPTH + 1));
        assert_eq!(check_shape(deep.as_bytes()), Err(JsonError::TooDeep));
        let in_string = format!("{{\"a\":\"{}\"}}", "[".repeat(1000));
        assert_eq!(check_shape(in_string.as_bytes()), Ok(()));
        // An escaped quote does not end the string.
        let tricky = format!("{{\"a\":\"\\\"{}\"}}", "{".repeat(1000));
        assert_eq!(check_shape(tricky.as_bytes()), Ok(()));
    }

    #[test]
    fn a_huge_string_is_refused_before_parsing() {
        let huge = format!("{{\"alias\":\"{}\"}}", "x".repeat(MAX_STRING_BYTES + 1));
        assert_eq!(check_shape(huge.as_bytes()), Err(JsonError::StringTooLong));
    }

    #[test]
    fn maps_refuse_duplicate_keys_and_too_many_entries() {
        let m: BoundedMap<u32> = parse(br#"{"a":1,"b":2}"#).unwrap();
        assert_eq!(m.0, vec![("a".to_owned(), 1), ("b".to_owned(), 2)]);
        let dup = parse::<BoundedMap<u32>>(br#"{"a":1,"a":2}"#).unwrap_err();
        assert!(dup.to_string().contains("listed twice"), "{dup}");

        let mut many = String::from("{");
        for i in 0..=MAX_FILES {
            many.push_str(&format!("\"{i}\":0,"));
        }
        many.pop();
        many.push('}');
        let err = parse::<BoundedMap<u32>>(many.as_bytes()).unwrap_err();
        assert!(err.to_string().contains("more than"), "{err}");
    }

    #[test]
    fn structs_refuse_duplicate_fields() {
        #[derive(Debug, Deserialize)]
        #[allow(dead_code)]
        struct S {
            alias: String,
        }
        assert!(parse::<S>(br#"{"alias":"a","alias":"b"}"#).is_err());
        assert!(parse::<S>(br#"{"alias":"a","unknown":{"deep":[1,2]}}"#).is_ok());
    }
}
