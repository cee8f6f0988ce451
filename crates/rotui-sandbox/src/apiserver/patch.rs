//! Patch documents: JSON merge patch (RFC 7386), JSON patch (RFC 6902).

use serde_json::Value;

use super::status::ApiError;

/// Apply an RFC 7386 merge patch to `target`.
pub fn merge_patch(target: &mut Value, patch: &Value) {
    let Value::Object(p) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = Value::Object(Default::default());
    }
    let t = target.as_object_mut().expect("made an object above");
    for (k, v) in p {
        if v.is_null() {
            t.remove(k);
        } else {
            merge_patch(t.entry(k.clone()).or_insert(Value::Null), v);
        }
    }
}

/// Apply an RFC 6902 JSON patch to `target`.
pub fn json_patch(target: &mut Value, ops: &Value) -> Result<(), ApiError> {
    let ops = ops
        .as_array()
        .ok_or_else(|| ApiError::bad_request("a JSON patch must be an array of operations"))?;
    for op in ops {
        let field = |f: &str| {
            op.get(f)
                .and_then(Value::as_str)
                .ok_or_else(|| ApiError::bad_request(format!("JSON patch operation without {f:?}: {op}")))
        };
        let path = field("path")?;
        match field("op")? {
            "add" => add(target, path, value(op)?)?,
            "remove" => {
                remove(target, path)?;
            }
            "replace" => {
                remove(target, path)?;
                add(target, path, value(op)?)?;
            }
            "test" => {
                if target.pointer(path) != Some(&value(op)?) {
                    return Err(ApiError::new(
                        422,
                        "Invalid",
                        format!(
                            "the server rejected our request due to an error in our request: test failed at {path}"
                        ),
                    ));
                }
            }
            "move" => {
                let v = remove(target, field("from")?)?;
                add(target, path, v)?;
            }
            "copy" => {
                let v = target
                    .pointer(field("from")?)
                    .cloned()
                    .ok_or_else(|| missing(field("from").unwrap_or("")))?;
                add(target, path, v)?;
            }
            other => {
                return Err(ApiError::bad_request(format!(
                    "unknown JSON patch operation {other:?}"
                )));
            }
        }
    }
    Ok(())
}

fn value(op: &Value) -> Result<Value, ApiError> {
    op.get("value")
        .cloned()
        .ok_or_else(|| ApiError::bad_request(format!("JSON patch operation without \"value\": {op}")))
}

fn missing(path: &str) -> ApiError {
    ApiError::new(422, "Invalid", format!("jsonpatch: path {path:?} does not exist"))
}

fn unescape(s: &str) -> String {
    s.replace("~1", "/").replace("~0", "~")
}

fn split(path: &str) -> Result<(&str, String), ApiError> {
    let (parent, last) = path.rsplit_once('/').ok_or_else(|| missing(path))?;
    Ok((parent, unescape(last)))
}

fn add(target: &mut Value, path: &str, v: Value) -> Result<(), ApiError> {
    if path.is_empty() {
        *target = v;
        return Ok(());
    }
    let (parent, key) = split(path)?;
    match target.pointer_mut(parent).ok_or_else(|| missing(path))? {
        Value::Object(m) => {
            m.insert(key, v);
        }
        Value::Array(a) => {
            let i = if key == "-" {
                a.len()
            } else {
                key.parse().map_err(|_| missing(path))?
            };
            if i > a.len() {
                return Err(missing(path));
            }
            a.insert(i, v);
        }
        _ => return Err(missing(path)),
    }
    Ok(())
}

fn remove(target: &mut Value, path: &str) -> Result<Value, ApiError> {
    let (parent, key) = split(path)?;
    match target.pointer_mut(parent).ok_or_else(|| missing(path))? {
        Value::Object(m) => m.remove(&key).ok_or_else(|| missing(path)),
        Value::Array(a) => {
            let i: usize = key.parse().map_err(|_| missing(path))?;
            (i < a.len()).then(|| a.remove(i)).ok_or_else(|| missing(path))
        }
        _ => Err(missing(path)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn rfc7386_examples() {
        let mut t = json!({"a": "b", "c": {"d": "e", "f": "g"}});
        merge_patch(&mut t, &json!({"a": "z", "c": {"f": null}}));
        assert_eq!(t, json!({"a": "z", "c": {"d": "e"}}));
        let mut t = json!({"a": ["b"]});
        merge_patch(&mut t, &json!({"a": ["c"]}));
        assert_eq!(t, json!({"a": ["c"]}));
        let mut t = json!({"a": "foo"});
        merge_patch(&mut t, &json!({"b": {"c": null, "d": 1}}));
        assert_eq!(t, json!({"a": "foo", "b": {"d": 1}}));
    }

    #[test]
    fn json_patch_ops() {
        let mut t = json!({"metadata": {"finalizers": ["a"], "labels": {"x/y": "1"}}});
        json_patch(
            &mut t,
            &json!([
                {"op": "add", "path": "/metadata/finalizers/-", "value": "b"},
                {"op": "test", "path": "/metadata/labels/x~1y", "value": "1"},
                {"op": "remove", "path": "/metadata/finalizers/0"},
                {"op": "replace", "path": "/metadata/labels/x~1y", "value": "2"},
            ]),
        )
        .unwrap();
        assert_eq!(
            t,
            json!({"metadata": {"finalizers": ["b"], "labels": {"x/y": "2"}}})
        );
        let err = json_patch(&mut t, &json!([{"op": "remove", "path": "/nope/x"}])).unwrap_err();
        assert_eq!(err.code, 422);
    }
}
