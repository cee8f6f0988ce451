//! The real binary in a tmux pane, as an operator would run it: keys in,
//! screens out. Each session runs on a tmux server of its own (`-L`), apart
//! from other tests' sessions; the pane's shell prints `exit=N` when the
//! program ends, and every screen captured is kept, in order.

use std::collections::HashMap;
use std::process::Command;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The least any [`Tmux::wait_for`] waits before it gives up.
pub const PATIENCE: Duration = Duration::from_secs(30);

pub struct Tmux {
    pub session: String,
    captures: Mutex<Vec<String>>,
}

/// tmux on the session's own server.
fn tmux(session: &str) -> Command {
    let mut c = Command::new("tmux");
    c.args(["-L", session]);
    c
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

impl Tmux {
    /// Run `bin args` with exactly `env` exported, in a 160×48 pane.
    pub fn start(name: &str, env: &HashMap<String, String>, bin: &str, args: &str) -> Tmux {
        Tmux::start_sized(name, env, bin, args, (160, 48))
    }

    /// [`Tmux::start`] in a pane of `(columns, rows)`.
    pub fn start_sized(
        name: &str,
        env: &HashMap<String, String>,
        bin: &str,
        args: &str,
        (columns, rows): (u16, u16),
    ) -> Tmux {
        let session = format!("{name}-{}", std::process::id());
        let exports: String = env
            .iter()
            .map(|(k, v)| format!("export {k}={}; ", rotui::text::shell_quote(v)))
            .collect();
        let cmd = format!(
            "{exports} {} {args}; echo \"exit=$?\"; sleep 60",
            rotui::text::shell_quote(bin)
        );
        let ok = tmux(&session)
            .args([
                "new-session",
                "-d",
                "-s",
                &session,
                "-x",
                &columns.to_string(),
                "-y",
                &rows.to_string(),
                "bash",
                "-c",
                &cmd,
            ])
            .status()
            .expect("tmux runs")
            .success();
        assert!(ok, "tmux new-session failed");
        // Esc reaches the program at once, not as the start of a sequence.
        let _ = tmux(&session)
            .args(["set", "-t", &session, "escape-time", "0"])
            .status();
        Tmux {
            session,
            captures: Mutex::new(Vec::new()),
        }
    }

    /// The screen as text (kept among the captures).
    pub fn capture(&self) -> String {
        let screen = self.capture_with(&[]);
        self.captures.lock().unwrap().push(screen.clone());
        screen
    }

    /// The screen with `capture-pane`'s extra flags (`-e`: with escapes).
    pub fn capture_with(&self, flags: &[&str]) -> String {
        let out = tmux(&self.session)
            .args(["capture-pane", "-p", "-t", &self.session])
            .args(flags)
            .output()
            .expect("capture-pane");
        text(&out.stdout)
    }

    /// Every screen captured so far, in order.
    pub fn captures(&self) -> Vec<String> {
        self.captures.lock().unwrap().clone()
    }

    /// `tmux send-keys` (`-l` first for literal text).
    pub fn keys(&self, keys: &[&str]) {
        let ok = tmux(&self.session)
            .args(["send-keys", "-t", &self.session])
            .args(keys)
            .status()
            .expect("send-keys")
            .success();
        assert!(ok, "send-keys {keys:?}");
    }

    /// The open preview read to its end (`G`), once its own footer offers
    /// Enter (the status bar's `Enter run` hint is always on screen, and
    /// the preview accepts Enter only from the frame that measured it).
    pub fn read_preview(&self) -> String {
        self.keys(&["G"]);
        self.wait_for("the preview read to its end", Duration::from_secs(10), |s| {
            s.contains("Enter run   Esc cancel") || s.contains("Enter continue")
        })
    }

    /// Enter on a read preview, then whatever it asks: `typed` where a
    /// name must be typed, `y` where a yes will do.
    pub fn run_previewed(&self, typed: &str) {
        let asks = |s: &str| s.contains("Type to confirm") || s.contains("y yes, do it");
        // The step may not start this moment (the plan read again after the
        // last step, or that step still ending): the preview stays and says
        // "Enter again"; then Enter again once the notice has gone.
        let start = Instant::now();
        let s = loop {
            self.keys(&["Enter"]);
            // A screen without the preview is taken only once two captures in
            // a row agree: tmux can capture the pane halfway through a redraw,
            // when the preview is already painted over and the question not yet drawn.
            let last = std::cell::RefCell::new(String::new());
            let s = self.wait_for("the step to start or ask", Duration::from_secs(10), |s| {
                let settled = *last.borrow() == s;
                *last.borrow_mut() = s.to_owned();
                asks(s) || s.contains("Enter again") || (!s.contains("Preview:") && settled)
            });
            if !s.contains("Enter again") || asks(&s) {
                break s;
            }
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "the step never could start:\n{s}"
            );
            self.wait_for("the notice to fade", Duration::from_secs(20), |s| {
                !s.contains("Enter again")
            });
        };
        if s.contains("Type to confirm") {
            self.keys(&["-l", typed]);
            self.keys(&["Enter"]);
        } else if s.contains("y yes, do it") {
            self.keys(&["y"]);
        }
    }

    /// Resize the window, as an operator's terminal would be.
    pub fn resize(&self, (columns, rows): (u16, u16)) {
        let ok = tmux(&self.session)
            .args([
                "resize-window",
                "-t",
                &self.session,
                "-x",
                &columns.to_string(),
                "-y",
                &rows.to_string(),
            ])
            .status()
            .expect("resize-window")
            .success();
        assert!(ok, "resize-window {columns}x{rows}");
    }

    /// A tmux format of the pane (`#{alternate_on}`, `#{cursor_flag}`, …).
    pub fn format(&self, f: &str) -> String {
        let out = tmux(&self.session)
            .args(["display-message", "-p", "-t", &self.session, f])
            .output()
            .expect("display-message");
        text(&out.stdout).trim().to_owned()
    }

    /// The screen once `pred` holds of it, waiting `timeout` at the least:
    /// what is asserted is what the screen shows, never how soon. A CI
    /// machine running six tests on two cores has stalled a debug build's
    /// answer to a key for over 5 s, so no wait gives up before
    /// [`PATIENCE`]; a screen that is right returns at once.
    pub fn wait_for(&self, what: &str, timeout: Duration, pred: impl Fn(&str) -> bool) -> String {
        let timeout = timeout.max(PATIENCE);
        let start = Instant::now();
        loop {
            let s = self.capture();
            if pred(&s) {
                return s;
            }
            assert!(
                start.elapsed() < timeout,
                "timed out waiting for {what}; screen:\n{s}"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// The program's pid: the only child of the pane's shell.
    pub fn program_pid(&self) -> String {
        let shell = self.format("#{pane_pid}");
        let start = Instant::now();
        loop {
            let children =
                std::fs::read_to_string(format!("/proc/{shell}/task/{shell}/children")).unwrap_or_default();
            if let Some(pid) = children.split_whitespace().next() {
                return pid.to_owned();
            }
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "the program did not start"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// `kill -NAME` the program.
    pub fn signal(&self, name: &str) {
        let pid = self.program_pid();
        let ok = Command::new("kill")
            .args([&format!("-{name}"), &pid])
            .status()
            .unwrap()
            .success();
        assert!(ok, "kill -{name} {pid}");
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = tmux(&self.session).args(["kill-server"]).status();
    }
}

/// The `exit=N` the pane's shell printed when the program ended.
pub fn exit_code(screen: &str) -> Option<i32> {
    screen
        .lines()
        .find_map(|l| l.trim().strip_prefix("exit="))
        .and_then(|c| c.trim().parse().ok())
}
