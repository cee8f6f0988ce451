//! The slice of Go's text/template that ExternalSecret templates use:
//! `{{ .key }}`, `{{ index . "key" }}` (for keys Go can't name with a dot,
//! such as `host-replica`), the `{{-`/`-}}` trim markers, and the one pipe
//! GOV.UK's templates use, `| toString` (govuk-helm-charts
//! `charts/external-secrets/externalsecrets-templates/*.tpl`: every value
//! goes through it; on strings it changes nothing). Values are
//! inserted verbatim — ESO does no URL escaping, which is why the runbook
//! wants passwords of letters and digits only. A missing key is an error, as
//! with ESO's `missingkey=error`.

use std::collections::BTreeMap;

/// Render `template` (named `name` in error messages, like Go does) with
/// `data`. Errors never contain values, only key names and positions.
pub fn render(name: &str, template: &str, data: &BTreeMap<String, String>) -> Result<String, String> {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(open) = rest.find("{{") {
        let mut text = &rest[..open];
        let after = &rest[open + 2..];
        let Some(close) = after.find("}}") else {
            return Err(format!("template: {name}: unclosed action"));
        };
        let mut action = &after[..close];
        if let Some(a) = action.strip_prefix('-') {
            action = a;
            text = text.trim_end();
        }
        let trim_right = action.ends_with('-') && action.len() > 1;
        if trim_right {
            action = &action[..action.len() - 1];
        }
        out.push_str(text);
        out.push_str(eval(name, action.trim(), data)?);
        rest = &after[close + 2..];
        if trim_right {
            rest = rest.trim_start();
        }
    }
    out.push_str(rest);
    Ok(out)
}

/// A pipeline: a value, then `| fn` stages. The data's values are strings,
/// so a pipe of a string function keeps them as they are.
fn eval<'a>(name: &str, action: &str, data: &'a BTreeMap<String, String>) -> Result<&'a str, String> {
    let mut stages = action.split('|').map(str::trim);
    let value = value(name, stages.next().unwrap_or_default(), data)?;
    for stage in stages {
        match stage {
            "toString" => {}
            "" => {
                return Err(format!(
                    "template: {name}: missing function after | in {{{{ {action} }}}}"
                ));
            }
            _ => {
                let f = stage.split_whitespace().next().unwrap_or(stage);
                return Err(format!(
                    "template: {name}: function \"{f}\" is not one the sandbox knows (toString) in {{{{ {action} }}}}"
                ));
            }
        }
    }
    Ok(value)
}

fn value<'a>(name: &str, action: &str, data: &'a BTreeMap<String, String>) -> Result<&'a str, String> {
    let key = if let Some(field) = action.strip_prefix('.') {
        if field.is_empty() || !field.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(format!("template: {name}: bad field name in {{{{ {action} }}}}"));
        }
        field
    } else if let Some(arg) = action.strip_prefix("index . ") {
        let arg = arg.trim();
        arg.strip_prefix('"')
            .and_then(|a| a.strip_suffix('"'))
            .ok_or_else(|| format!("template: {name}: index needs a quoted key in {{{{ {action} }}}}"))?
    } else {
        return Err(format!("template: {name}: unsupported action {{{{ {action} }}}}"));
    };
    data.get(key)
        .map(String::as_str)
        .ok_or_else(|| format!("template: {name}: map has no entry for key \"{key}\""))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data() -> BTreeMap<String, String> {
        [
            ("username", "signon"),
            ("password", "p4ss"),
            ("host", "db:3306"),
            ("host-replica", "r"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
    }

    #[test]
    fn renders_the_govuk_database_url_template() {
        let t = "mysql2://{{ .username }}:{{.password}}@{{ .host }}/signon_production";
        assert_eq!(
            render("DATABASE_URL", t, &data()).unwrap(),
            "mysql2://signon:p4ss@db:3306/signon_production"
        );
    }

    #[test]
    fn renders_the_estate_templates_with_to_string() {
        // charts/external-secrets/externalsecrets-templates/mysql-conn-string.tpl + the app's database.
        let t = "mysql2://{{ .username | toString }}:{{ .password | toString }}@{{ .host | toString }}/whitehall_production";
        assert_eq!(
            render("DATABASE_URL", t, &data()).unwrap(),
            "mysql2://signon:p4ss@db:3306/whitehall_production"
        );
        assert_eq!(
            render(
                "x",
                r#"{{- index . "host-replica" | toString |toString -}}"#,
                &data()
            )
            .unwrap(),
            "r"
        );
        // A missing key is still an error through the pipe.
        let e = render("DATABASE_URL", "{{ .hostReplica | toString }}", &data()).unwrap_err();
        assert!(e.contains("no entry for key \"hostReplica\""), "{e}");
    }

    #[test]
    fn unknown_pipes_are_named_without_values() {
        let e = render("x", "{{ .password | b64enc }}", &data()).unwrap_err();
        assert!(e.contains("\"b64enc\"") && !e.contains("p4ss"), "{e}");
        let e = render("x", "{{ .password | }}", &data()).unwrap_err();
        assert!(e.contains("missing function"), "{e}");
        let e = render("x", "{{ .password | trunc 2 }}", &data()).unwrap_err();
        assert!(e.contains("\"trunc\""), "{e}");
    }

    #[test]
    fn supports_index_and_trim_markers() {
        assert_eq!(
            render("x", r#"a {{- index . "host-replica" -}} b"#, &data()).unwrap(),
            "arb"
        );
    }

    #[test]
    fn missing_keys_and_odd_actions_are_errors_without_values() {
        let e = render("DATABASE_URL", "{{ .nope }}", &data()).unwrap_err();
        assert!(e.contains("no entry for key \"nope\""), "{e}");
        assert!(render("x", "{{ .password | b64enc }}", &data()).is_err());
        assert!(render("x", "{{ .password ", &data()).is_err());
        assert!(
            !render("x", "{{ printf .password }}", &data())
                .unwrap_err()
                .contains("p4ss")
        );
    }
}
