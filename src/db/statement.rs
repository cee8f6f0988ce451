//! What the database layer will run: SQL whose password, if any, only the
//! executed text holds ([`Statement::preview`] masks it).

use crate::secret::{ExposeSecret, MASK, SecretString};

/// A statement rotui will run, shown before it runs. The text holds the
/// marker [`Statement::PASSWORD`] where a password goes, so the preview and
/// the executed statement are the same string but for the secret.
#[derive(Clone)]
pub struct Statement {
    text: String,
    password: Option<SecretString>,
    /// How the password is written into the SQL (engine-specific literal quoting).
    quote: fn(&str) -> String,
    /// Which database it runs in, when not the connection's default.
    pub database: Option<String>,
    /// A batch ([`Statement::batch`]): its statements, each sent on its own
    /// (the text is them joined, for the preview and the journal).
    parts: Vec<String>,
}

impl Statement {
    pub const PASSWORD: &'static str = "{{password}}";

    pub fn new(text: impl Into<String>) -> Self {
        Statement {
            text: text.into(),
            password: None,
            quote: |s| s.to_owned(),
            database: None,
            parts: vec![],
        }
    }

    /// Statements that must run in order on one connection (under session
    /// settings they set and restore), shown as one. Each is sent alone:
    /// MySQL keeps a trigger's or routine's definition as the text it was
    /// sent in, and one sent inside a multi-statement query keeps the `;`
    /// after it, which `mysqldump` then writes inside its `/*!… */` comment
    /// where the `mysql` client reading the dump stops with error 1064.
    /// `header`: a comment line shown before them.
    pub fn batch(header: Option<&str>, parts: Vec<String>) -> Self {
        let joined = parts.join(";\n");
        let text = match header {
            Some(h) => format!("{h}\n{joined}"),
            None => joined,
        };
        Statement {
            parts,
            ..Statement::new(text)
        }
    }

    /// The same, with comment lines shown first (a batch sends them with none of its statements).
    pub fn with_comment(mut self, comment: &str) -> Self {
        self.text = format!("{comment}\n{}", self.text);
        self
    }

    /// What to send, one by one (a batch's statements; else the statement).
    /// Never log or display these.
    pub fn sql_parts(&self) -> Vec<String> {
        if self.parts.is_empty() {
            vec![self.sql()]
        } else {
            self.parts.clone()
        }
    }

    /// A statement with a password literal, written with `quote`.
    pub fn with_password(text: impl Into<String>, password: SecretString, quote: fn(&str) -> String) -> Self {
        Statement {
            text: text.into(),
            password: Some(password),
            quote,
            database: None,
            parts: vec![],
        }
    }

    pub fn in_database(mut self, db: impl Into<String>) -> Self {
        self.database = Some(db.into());
        self
    }

    /// The statement as shown to the operator and written to the journal.
    pub fn preview(&self) -> String {
        let text = match &self.password {
            Some(_) => self.text.replace(Self::PASSWORD, &(self.quote)(MASK)),
            None => self.text.clone(),
        };
        match &self.database {
            Some(db) => format!("-- in database {db}\n{text}"),
            None => text,
        }
    }

    /// The statement to execute. Never log or display this.
    pub fn sql(&self) -> String {
        match &self.password {
            Some(p) => self
                .text
                .replace(Self::PASSWORD, &(self.quote)(p.expose_secret())),
            None => self.text.clone(),
        }
    }
}

impl std::fmt::Debug for Statement {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.preview())
    }
}

impl std::fmt::Display for Statement {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.preview())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::ident::mysql_str;

    #[test]
    fn statements_mask_passwords_in_preview_only() {
        let s = Statement::with_password(
            "CREATE USER 'u'@'%' IDENTIFIED BY {{password}}",
            SecretString::from("s3cretpassw0rd"),
            mysql_str,
        );
        assert_eq!(s.preview(), format!("CREATE USER 'u'@'%' IDENTIFIED BY '{MASK}'"));
        assert_eq!(s.sql(), "CREATE USER 'u'@'%' IDENTIFIED BY 's3cretpassw0rd'");
        assert!(!format!("{s:?} {s}").contains("s3cret"));
    }
}
