//! JSON lines. Fields are addressed by key or dotted path (`http.status`);
//! arrays yield their first element (Caddy writes headers as arrays).

use std::borrow::Cow;

use serde::Deserialize;
use serde::de::{self, MapAccess, Visitor};
use serde_json::value::RawValue;

use super::SkipReason;
use crate::event::{Key, Record};

/// A JSON object flattened to `(dotted path, scalar text)` pairs. Strings
/// without escapes and numbers borrow from the line: no tree is built.
/// A level's own keys come before nested ones, so a literal `"a.b"` key
/// shadows `{"a":{"b":..}}`.
pub struct JsonRecord<'a> {
    pairs: Vec<(Cow<'a, str>, Cow<'a, str>)>,
}

/// The members of one object, values left unparsed.
struct Members<'a>(Vec<(Cow<'a, str>, &'a RawValue)>);

#[derive(Deserialize)]
struct Text<'a>(#[serde(borrow)] Cow<'a, str>);

impl<'de> Deserialize<'de> for Members<'de> {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Members<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<Self::Value, A::Error> {
                let mut v = Vec::with_capacity(m.size_hint().unwrap_or(16));
                while let Some((k, val)) = m.next_entry::<Text<'de>, &'de RawValue>()? {
                    v.push((k.0, val));
                }
                Ok(Members(v))
            }
        }
        d.deserialize_map(V)
    }
}

/// The text of a scalar (first element of an array); `None` for null,
/// objects and empty arrays.
fn scalar(raw: &RawValue) -> Option<Cow<'_, str>> {
    let t = raw.get();
    match t.as_bytes().first()? {
        // `raw` is valid JSON already: a string without escapes is the text
        // between its quotes, with no second parse.
        b'"' if t.len() >= 2 && memchr::memchr(b'\\', t.as_bytes()).is_none() => {
            Some(Cow::Borrowed(&t[1..t.len() - 1]))
        }
        b'"' => serde_json::from_str::<Text>(t).ok().map(|s| s.0),
        b'[' => serde_json::from_str::<Vec<&RawValue>>(t)
            .ok()?
            .first()
            .and_then(|v| scalar(v).map(|c| Cow::Owned(c.into_owned()))),
        b'{' | b'n' => None,
        _ => Some(Cow::Borrowed(t)), // numbers and booleans, as written
    }
}

fn flatten<'a>(
    members: Members<'a>,
    prefix: Option<&str>,
    out: &mut Vec<(Cow<'a, str>, Cow<'a, str>)>,
) -> Result<(), SkipReason> {
    let path = |k: Cow<'a, str>| match prefix {
        Some(p) => Cow::Owned(format!("{p}.{k}")),
        None => k,
    };
    let mut nested = Vec::new();
    for (k, v) in members.0 {
        if v.get().starts_with('{') {
            nested.push((k, v));
        } else if let Some(s) = scalar(v) {
            out.push((path(k), s));
        }
    }
    for (k, v) in nested {
        let inner: Members<'a> =
            serde_json::from_str(v.get()).map_err(|_| SkipReason::Unparsable)?;
        let p = path(k);
        flatten(inner, Some(&p), out)?;
    }
    Ok(())
}

pub fn parse(line: &str) -> Result<JsonRecord<'_>, SkipReason> {
    let mut t = line.trim();
    if !t.starts_with('{') {
        // `docker compose logs` prefixes each line with `service  | `.
        match t.find("| {") {
            Some(i) if !t[..i].contains('{') => t = &t[i + 2..],
            _ => return Err(SkipReason::Unparsable),
        }
    }
    let members: Members = serde_json::from_str(t).map_err(|_| SkipReason::Unparsable)?;
    let mut pairs = Vec::with_capacity(members.0.len());
    flatten(members, None, &mut pairs)?;
    Ok(JsonRecord { pairs })
}

impl JsonRecord<'_> {
    /// Number of (path, value) pairs.
    pub fn len(&self) -> usize {
        self.pairs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.pairs.is_empty()
    }

    /// Dotted path of pair `j`.
    pub fn key(&self, j: usize) -> &str {
        &self.pairs[j].0
    }

    /// Value of pair `j`.
    pub fn value(&self, j: usize) -> &str {
        &self.pairs[j].1
    }
}

impl Record for JsonRecord<'_> {
    fn visit<'s>(&'s self, f: &mut dyn FnMut(Key<'_>, Cow<'s, str>)) -> bool {
        for (k, v) in &self.pairs {
            f(Key::Name(k), Cow::Borrowed(v.as_ref()));
        }
        true
    }

    fn get(&self, key: &str) -> Option<Cow<'_, str>> {
        self.pairs
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| Cow::Borrowed(v.as_ref()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths() {
        let r = parse(r#"{"time":"t","req":{"status":401,"headers":{"User-Agent":["ua/1"]}},"a.b":{"c":true},"n":null}"#).unwrap();
        assert_eq!(r.get("req.status").as_deref(), Some("401"));
        assert_eq!(r.get("req.headers.User-Agent").as_deref(), Some("ua/1"));
        assert_eq!(r.get("a.b.c").as_deref(), Some("true"));
        assert_eq!(r.get("n"), None);
        assert_eq!(r.get("req"), None);
        assert_eq!(r.get("missing.path"), None);
        assert!(parse("[1,2]").is_err());
        let r = parse(r#"caddy  | {"status":304}"#).unwrap();
        assert_eq!(r.get("status").as_deref(), Some("304"));
        assert!(parse("{broken").is_err());
        let r = parse(r#"{"a":"x\"y\u00e9","b":"","c":["q\\"],"d":"plain é"}"#).unwrap();
        assert_eq!(r.get("a").as_deref(), Some("x\"yé"));
        assert_eq!(r.get("b").as_deref(), Some(""));
        assert_eq!(r.get("c").as_deref(), Some("q\\"));
        assert_eq!(r.get("d").as_deref(), Some("plain é"));
    }
}
