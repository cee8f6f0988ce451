//! Text that leaves the process: control characters made visible, and words
//! quoted for a shell.
//!
//! Names come from the database (views, users, definers) and from the
//! cluster, and whoever can create a view can put ESC/OSC bytes in its name
//! (an OSC 52 sequence writes the operator's clipboard; others retitle the
//! window or redraw the screen). The dashboard never passes them to the
//! terminal (ratatui drops control characters from its cells); every other
//! way text leaves rotui — `plan`, `rotate`, `inspect`, `journal`, error
//! reports, the panic report, the log — goes through [`escape_controls`] or
//! an [`EscapingWriter`], which print them visibly (`\x1b`).

use std::borrow::Cow;
use std::fmt::Write as _;
use std::io::{self, Write};

/// Whether `c` must not reach a terminal raw: C0 controls, DEL and the C1
/// controls (U+0080–U+009F, e.g. the one-byte CSI U+009B), and the Unicode
/// bidirectional overrides that make text read differently from what it is.
fn is_hostile(c: char) -> bool {
    c.is_control() || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

fn push_escaped(out: &mut String, c: char) {
    let n = c as u32;
    if n < 0x100 {
        let _ = write!(out, "\\x{n:02x}");
    } else {
        let _ = write!(out, "\\u{{{n:x}}}");
    }
}

/// `s` with every control character (newlines and tabs too) shown as an
/// escape (`\x1b`, `\x0a`, `\u{202e}`): for one-line fields such as names.
pub fn escape_controls(s: &str) -> Cow<'_, str> {
    escape_except(s, "")
}

/// Like [`escape_controls`], but newlines and tabs pass: for whole
/// multi-line reports.
pub fn escape_controls_keep_lines(s: &str) -> Cow<'_, str> {
    escape_except(s, "\n\t")
}

fn escape_except<'a>(s: &'a str, keep: &str) -> Cow<'a, str> {
    if !s.chars().any(|c| is_hostile(c) && !keep.contains(c)) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if is_hostile(c) && !keep.contains(c) {
            push_escaped(&mut out, c);
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// JSON from serde_json with the control characters it leaves raw (DEL,
/// C1, bidirectional overrides) written as `\uXXXX` escapes: still the same
/// JSON document, and nothing in it a terminal acts on. (serde_json already
/// escapes C0 inside strings; outside them there are only `\n` and spaces.)
pub fn escape_json_controls(json: &str) -> Cow<'_, str> {
    if !json.chars().any(|c| is_hostile(c) && c != '\n') {
        return Cow::Borrowed(json);
    }
    let mut out = String::with_capacity(json.len() + 8);
    for c in json.chars() {
        if is_hostile(c) && c != '\n' {
            let mut units = [0u16; 2];
            for u in c.encode_utf16(&mut units) {
                let _ = write!(out, "\\u{u:04x}");
            }
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// A writer that passes text on with control characters escaped (newlines
/// and tabs pass), and bytes that are not UTF-8 shown as `\xNN`. A
/// character split across two writes is held until its end arrives.
pub struct EscapingWriter<W: Write> {
    /// Always `Some` until [`EscapingWriter::into_inner`] takes it.
    inner: Option<W>,
    pending: Vec<u8>,
}

impl<W: Write> EscapingWriter<W> {
    pub fn new(inner: W) -> Self {
        EscapingWriter {
            inner: Some(inner),
            pending: Vec::new(),
        }
    }

    /// Escape and pass on what is complete in `pending`.
    fn drain(&mut self, at_end: bool) -> io::Result<()> {
        let mut out = String::new();
        let mut rest: &[u8] = &self.pending;
        loop {
            match std::str::from_utf8(rest) {
                Ok(s) => {
                    out.push_str(&escape_controls_keep_lines(s));
                    rest = &[];
                    break;
                }
                Err(e) => {
                    let (good, bad) = rest.split_at(e.valid_up_to());
                    // `good` is valid UTF-8 by construction.
                    out.push_str(&escape_controls_keep_lines(
                        std::str::from_utf8(good).unwrap_or_default(),
                    ));
                    match e.error_len() {
                        Some(n) => {
                            for b in &bad[..n] {
                                let _ = write!(out, "\\x{b:02x}");
                            }
                            rest = &bad[n..];
                        }
                        None if at_end => {
                            for b in bad {
                                let _ = write!(out, "\\x{b:02x}");
                            }
                            rest = &[];
                            break;
                        }
                        // An incomplete character at the end: wait for the rest.
                        None => {
                            rest = bad;
                            break;
                        }
                    }
                }
            }
        }
        self.pending = rest.to_vec();
        match self.inner.as_mut() {
            Some(w) => w.write_all(out.as_bytes()),
            None => Ok(()),
        }
    }

    /// The writer inside, after what is pending has been written to it.
    pub fn into_inner(mut self) -> W {
        let _ = self.drain(true);
        self.inner.take().expect("the writer is only taken here")
    }
}

impl<W: Write> Write for EscapingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.pending.extend_from_slice(buf);
        self.drain(false)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        match self.inner.as_mut() {
            Some(w) => w.flush(),
            None => Ok(()),
        }
    }
}

impl<W: Write> Drop for EscapingWriter<W> {
    fn drop(&mut self) {
        if !self.pending.is_empty() {
            let _ = self.drain(true);
        }
        let _ = self.flush();
    }
}

/// `s` as one word for a POSIX shell: as is when it holds only characters
/// no shell treats specially, else in single quotes (a quote inside becomes
/// `'\''`). `sh -c "printf '%s\n' $(shell_quote(s))"` prints `s` back.
pub fn shell_quote(s: &str) -> String {
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:@,+%".contains(c))
    {
        s.to_owned()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

/// `n` and its noun, plural unless one: `1 connection`, `3 connections`.
pub fn count(n: i64, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controls_are_shown_not_passed() {
        let osc52 = "v\u{1b}]52;c;ZWNobyBoaQ==\u{7}x";
        assert_eq!(escape_controls(osc52), r"v\x1b]52;c;ZWNobyBoaQ==\x07x");
        assert_eq!(escape_controls("a\u{9b}2Jb\r\n"), r"a\x9b2Jb\x0d\x0a");
        assert_eq!(escape_controls_keep_lines("a\tb\n"), "a\tb\n");
        assert_eq!(escape_controls("ab\u{202e}cd"), r"ab\u{202e}cd");
        assert!(matches!(escape_controls("plain — text"), Cow::Borrowed(_)));
    }

    #[test]
    fn the_writer_escapes_across_split_writes_and_bad_bytes() {
        let mut w = EscapingWriter::new(Vec::new());
        let text = "é\u{1b}[31m✓\n".as_bytes();
        for b in text {
            w.write_all(std::slice::from_ref(b)).unwrap();
        }
        w.write_all(b"\xff ok\n").unwrap();
        let out = String::from_utf8(w.into_inner()).unwrap();
        assert_eq!(out, "é\\x1b[31m✓\n\\xff ok\n");
    }

    #[test]
    fn json_stays_json() {
        let doc = serde_json::json!({ "name": "v\u{1b}]52;c;eA==\u{7}\u{9b}\u{7f}\u{202e}" });
        let text = serde_json::to_string_pretty(&doc).unwrap();
        let safe = escape_json_controls(&text);
        assert!(!safe.chars().any(|c| is_hostile(c) && c != '\n'), "{safe}");
        let back: serde_json::Value = serde_json::from_str(&safe).unwrap();
        assert_eq!(back, doc);
    }

    #[test]
    fn shell_quote_handles_quotes() {
        assert_eq!(shell_quote("a b'c"), r"'a b'\''c'");
        assert_eq!(shell_quote("/usr/bin/x"), "/usr/bin/x");
        assert_eq!(shell_quote(""), "''");
        assert_eq!(shell_quote("x'; DROP"), r"'x'\''; DROP'");
    }
}
