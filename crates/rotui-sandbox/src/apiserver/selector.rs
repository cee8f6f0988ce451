//! Label and field selectors as the API server parses them.

use serde_json::Value;

use super::status::ApiError;

#[derive(Debug, Clone, PartialEq)]
enum Req {
    Eq(String, String),
    Ne(String, String),
    In(String, Vec<String>),
    NotIn(String, Vec<String>),
    Exists(String),
    NotExists(String),
}

/// A parsed `labelSelector` plus `fieldSelector`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Selector {
    labels: Vec<Req>,
    fields: Vec<Req>,
}

impl Selector {
    pub fn parse(label: Option<&str>, field: Option<&str>) -> Result<Self, ApiError> {
        let labels = match label {
            Some(s) => parse_labels(s)?,
            None => vec![],
        };
        let fields = match field {
            Some(s) => parse_fields(s)?,
            None => vec![],
        };
        Ok(Selector { labels, fields })
    }

    pub fn matches(&self, obj: &Value) -> bool {
        let labels = obj.pointer("/metadata/labels");
        let label = |k: &str| labels.and_then(|l| l.get(k)).and_then(Value::as_str);
        let field = |k: &str| field_value(obj, k);
        self.labels.iter().all(|r| req_matches(r, &label))
            && self.fields.iter().all(|r| req_matches(r, &field))
    }
}

fn req_matches<'a>(r: &Req, get: &dyn Fn(&str) -> Option<&'a str>) -> bool {
    match r {
        Req::Eq(k, v) => get(k) == Some(v.as_str()),
        // `!=` also matches objects without the key, as on the real server.
        Req::Ne(k, v) => get(k) != Some(v.as_str()),
        Req::In(k, vs) => get(k).is_some_and(|x| vs.iter().any(|v| v == x)),
        Req::NotIn(k, vs) => !get(k).is_some_and(|x| vs.iter().any(|v| v == x)),
        Req::Exists(k) => get(k).is_some(),
        Req::NotExists(k) => get(k).is_none(),
    }
}

/// A field path like `metadata.name` or `involvedObject.uid`, as a string.
fn field_value<'a>(obj: &'a Value, path: &str) -> Option<&'a str> {
    let mut cur = obj;
    for part in path.split('.') {
        cur = cur.get(part)?;
    }
    cur.as_str()
}

/// Split on commas outside parentheses.
fn split_top(s: &str) -> Vec<&str> {
    let (mut out, mut depth, mut start) = (vec![], 0i32, 0);
    for (i, c) in s.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                out.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&s[start..]);
    out.into_iter().map(str::trim).filter(|p| !p.is_empty()).collect()
}

fn invalid(kind: &str, s: &str) -> ApiError {
    ApiError::bad_request(format!(
        "unable to parse requirement: invalid {kind} selector: {s:?}"
    ))
}

fn parse_labels(s: &str) -> Result<Vec<Req>, ApiError> {
    split_top(s)
        .into_iter()
        .map(|p| {
            if let Some((k, v)) = p.split_once("!=") {
                return Ok(Req::Ne(k.trim().into(), v.trim().into()));
            }
            if let Some((k, v)) = p.split_once("==").or_else(|| p.split_once('=')) {
                return Ok(Req::Eq(k.trim().into(), v.trim().into()));
            }
            if let Some(k) = p.strip_prefix('!') {
                return Ok(Req::NotExists(k.trim().into()));
            }
            let words: Vec<&str> = p.splitn(2, char::is_whitespace).collect();
            if let [k, rest] = words.as_slice() {
                let rest = rest.trim();
                let (op, set) = rest.split_once('(').ok_or_else(|| invalid("label", p))?;
                let set = set.strip_suffix(')').ok_or_else(|| invalid("label", p))?;
                let vals = set
                    .split(',')
                    .map(|v| v.trim().to_string())
                    .filter(|v| !v.is_empty())
                    .collect();
                return match op.trim() {
                    "in" => Ok(Req::In(k.to_string(), vals)),
                    "notin" => Ok(Req::NotIn(k.to_string(), vals)),
                    _ => Err(invalid("label", p)),
                };
            }
            if p.chars().all(|c| c.is_ascii_alphanumeric() || "-_./".contains(c)) {
                Ok(Req::Exists(p.into()))
            } else {
                Err(invalid("label", p))
            }
        })
        .collect()
}

fn parse_fields(s: &str) -> Result<Vec<Req>, ApiError> {
    split_top(s)
        .into_iter()
        .map(|p| {
            if let Some((k, v)) = p.split_once("!=") {
                Ok(Req::Ne(k.trim().into(), v.trim().into()))
            } else if let Some((k, v)) = p.split_once("==").or_else(|| p.split_once('=')) {
                Ok(Req::Eq(k.trim().into(), v.trim().into()))
            } else {
                Err(invalid("field", p))
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(labels: Value) -> Value {
        json!({"metadata": {"name": "p1", "namespace": "apps", "labels": labels}, "status": {"phase": "Running"}})
    }

    #[test]
    fn label_selectors() {
        let p = pod(json!({"app": "signon", "tier": "web"}));
        let m = |s: &str| Selector::parse(Some(s), None).unwrap().matches(&p);
        assert!(m("app=signon"));
        assert!(m("app==signon,tier"));
        assert!(!m("app=signon,tier=db"));
        assert!(m("app in (signon, other),!gone"));
        assert!(!m("app notin (signon)"));
        assert!(m("tier!=db"));
        assert!(!m("missing"));
        assert!(Selector::parse(Some("a b c"), None).is_err());
    }

    #[test]
    fn field_selectors() {
        let p = pod(json!({}));
        let m = |s: &str| Selector::parse(None, Some(s)).unwrap().matches(&p);
        assert!(m("metadata.name=p1"));
        assert!(m("metadata.name=p1,metadata.namespace=apps,status.phase=Running"));
        assert!(!m("metadata.name=p2"));
        assert!(m("metadata.name!=p2"));
    }
}
