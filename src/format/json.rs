//! JSON lines. Fields are addressed by key or dotted path (`http.status`);
//! arrays yield their first element (Caddy writes headers as arrays).

use std::borrow::Cow;

use serde_json::Value;

use super::SkipReason;
use crate::event::{Key, Record};

pub struct JsonRecord(serde_json::Map<String, Value>);

pub fn parse(line: &str) -> Result<JsonRecord, SkipReason> {
    let mut t = line.trim();
    if !t.starts_with('{') {
        // `docker compose logs` prefixes each line with `service  | `.
        match t.find("| {") {
            Some(i) if !t[..i].contains('{') => t = &t[i + 2..],
            _ => return Err(SkipReason::Unparsable),
        }
    }
    match serde_json::from_str::<Value>(t) {
        Ok(Value::Object(m)) => Ok(JsonRecord(m)),
        _ => Err(SkipReason::Unparsable),
    }
}

fn scalar(v: &Value) -> Option<Cow<'_, str>> {
    match v {
        Value::String(s) => Some(Cow::Borrowed(s)),
        Value::Number(n) => Some(Cow::Owned(n.to_string())),
        Value::Bool(b) => Some(Cow::Borrowed(if *b { "true" } else { "false" })),
        Value::Array(a) => a.first().and_then(scalar),
        Value::Null | Value::Object(_) => None,
    }
}

/// Offers every scalar under `m`, named by its dotted path from the root.
/// A level's own keys go before nested ones, as in `get`, so a literal
/// `"a.b"` key shadows `{"a":{"b":..}}`.
fn visit_map<'s>(
    m: &'s serde_json::Map<String, Value>,
    path: &mut String,
    f: &mut dyn FnMut(Key<'_>, Cow<'s, str>),
) {
    for nested in [false, true] {
        for (k, v) in m {
            if matches!(v, Value::Object(_)) != nested {
                continue;
            }
            let len = path.len();
            if len > 0 {
                path.push('.');
            }
            path.push_str(k);
            match v {
                Value::Object(inner) => visit_map(inner, path, f),
                _ => {
                    if let Some(s) = scalar(v) {
                        f(Key::Name(path), s);
                    }
                }
            }
            path.truncate(len);
        }
    }
}

impl Record for JsonRecord {
    fn visit<'s>(&'s self, f: &mut dyn FnMut(Key<'_>, Cow<'s, str>)) -> bool {
        visit_map(&self.0, &mut String::new(), f);
        true
    }

    fn get(&self, key: &str) -> Option<Cow<'_, str>> {
        if let Some(v) = self.0.get(key) {
            return scalar(v);
        }
        // Walk the path, allowing keys that themselves contain dots.
        fn walk<'v>(m: &'v serde_json::Map<String, Value>, path: &str) -> Option<&'v Value> {
            if let Some(v) = m.get(path) {
                return Some(v);
            }
            let mut idx = 0;
            while let Some(off) = path[idx..].find('.') {
                let split = idx + off;
                if let Some(Value::Object(inner)) = m.get(&path[..split])
                    && let Some(v) = walk(inner, &path[split + 1..])
                {
                    return Some(v);
                }
                idx = split + 1;
            }
            None
        }
        walk(&self.0, key).and_then(scalar)
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
    }
}
