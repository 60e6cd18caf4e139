//! Running commands with captured output and a hard time limit: a test
//! may fail, but it must never hang.

use std::ffi::OsStr;
use std::fmt;
use std::io::Read;
use std::os::unix::process::CommandExt;
use std::process::{Command, ExitStatus, Stdio};
use std::thread;
use std::time::{Duration, Instant};

/// Default limit for one build or run: `CACHET_TEST_TIMEOUT` seconds, else 600.
pub fn default_timeout() -> Duration {
    let secs = std::env::var("CACHET_TEST_TIMEOUT")
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
        .unwrap_or(600);
    Duration::from_secs(secs)
}

/// What a finished command did.
#[derive(Clone, Debug)]
pub struct Captured {
    /// The command line, for messages.
    pub command: String,
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
    pub elapsed: Duration,
}

impl Captured {
    pub fn success(&self) -> bool {
        self.status.success()
    }

    /// Panic with the command, status and output unless it succeeded.
    #[track_caller]
    pub fn assert_success(self) -> Self {
        if !self.success() {
            panic!("command failed: {self}");
        }
        self
    }

    /// Panic with the command and output unless it failed.
    #[track_caller]
    pub fn assert_failure(self) -> Self {
        if self.success() {
            panic!("command unexpectedly succeeded: {self}");
        }
        self
    }

    /// stdout followed by stderr.
    pub fn combined(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }
}

impl fmt::Display for Captured {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "`{}` -> {} after {:.1}s",
            self.command,
            self.status,
            self.elapsed.as_secs_f64()
        )?;
        writeln!(f, "--- stdout ---\n{}", self.stdout.trim_end())?;
        write!(f, "--- stderr ---\n{}", self.stderr.trim_end())
    }
}

/// A shell-like rendering of a command (program and arguments only).
pub fn describe(cmd: &Command) -> String {
    let quote = |s: &OsStr| {
        let s = s.to_string_lossy();
        if !s.is_empty()
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_./:=@,+%{}".contains(c))
        {
            s.into_owned()
        } else {
            format!("'{}'", s.replace('\'', r"'\''"))
        }
    };
    std::iter::once(cmd.get_program())
        .chain(cmd.get_args())
        .map(quote)
        .collect::<Vec<_>>()
        .join(" ")
}

/// Run `cmd` to completion (stdin closed, stdout/stderr captured), killing
/// it after `timeout`. Panics if it cannot be started or times out.
///
/// The command runs in its own process group so a timeout kills its
/// children too (`docker buildx` is the docker CLI running a plugin; killing
/// only the CLI would leave the plugin holding our pipes open).
#[track_caller]
pub fn run(cmd: &mut Command, timeout: Duration) -> Captured {
    let command = describe(cmd);
    let start = Instant::now();
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start `{command}`: {e}"));
    let reader = |mut pipe: Box<dyn Read + Send>| {
        thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = pipe.read_to_end(&mut buf);
            String::from_utf8_lossy(&buf).into_owned()
        })
    };
    let out = reader(Box::new(child.stdout.take().expect("piped stdout")));
    let err = reader(Box::new(child.stderr.take().expect("piped stderr")));

    let mut timed_out = false;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if start.elapsed() >= timeout => {
                timed_out = true;
                let _ = Command::new("kill")
                    .args(["-KILL", "--", &format!("-{}", child.id())])
                    .status();
                let _ = child.kill();
                break child.wait().expect("wait for killed child");
            }
            Ok(None) => thread::sleep(Duration::from_millis(20)),
            Err(e) => panic!("waiting for `{command}`: {e}"),
        }
    };
    let captured = Captured {
        command,
        status,
        stdout: out.join().unwrap_or_default(),
        stderr: err.join().unwrap_or_default(),
        elapsed: start.elapsed(),
    };
    if timed_out {
        panic!(
            "timed out after {}s (set CACHET_TEST_TIMEOUT to change): {captured}",
            timeout.as_secs()
        );
    }
    captured
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn captures_both_streams_and_status() {
        let out = run(
            Command::new("sh").args(["-c", "echo out; echo err >&2; exit 3"]),
            Duration::from_secs(10),
        );
        assert_eq!(out.stdout, "out\n");
        assert_eq!(out.stderr, "err\n");
        assert_eq!(out.status.code(), Some(3));
        assert!(out
            .to_string()
            .contains("sh -c 'echo out; echo err >&2; exit 3'"));
    }

    #[test]
    #[should_panic(expected = "timed out after 0s")]
    fn kills_on_timeout() {
        // The grandchild keeps the pipes open unless the whole group dies.
        run(
            Command::new("sh").args(["-c", "sleep 30 & sleep 30"]),
            Duration::from_millis(200),
        );
    }
}
