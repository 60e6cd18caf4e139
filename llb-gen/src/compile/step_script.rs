//! The shell scripts of Cachet's own steps, as files rather than `sh -c` arguments.
//!
//! BuildKit names a failed exec by its arguments: `process "/bin/sh -c <script>" did not
//! complete successfully`. With the script inline, every failed cargo step's last error line
//! was the whole ~1.5 KB script, and the cargo command a user needs to see was buried in it. So
//! each step's script is a file of its own, in a small layer mounted read-only at
//! [`SCRIPT_DIR`], and the command it runs is passed as arguments: the error line then reads
//! `process "/bin/sh /cachet/step/cargo.sh cargo --locked --offline build --release …"`, and
//! cargo's own last lines (printed just above it) are what the user reads.
//!
//! The script's text is in the LLB either way (as file data instead of an argument), so the
//! step's cache key still moves with every line of it.

use crate::llb::{Mkfile, Mount, Platform, State};

use super::CompileError;

/// Where a step's script layer is mounted.
pub const SCRIPT_DIR: &str = "/cachet/step";

/// A step script, ready to mount and run.
pub(super) struct StepScript {
    layer: State,
    path: String,
}

impl StepScript {
    /// `lines` joined into the file `SCRIPT_DIR/<file>`. The lines run the step's command as
    /// `"$@"`: the arguments given to [`StepScript::argv`].
    pub(super) fn new(
        file: &str,
        lines: &[String],
        platform: &Platform,
        progress: &str,
    ) -> Result<Self, CompileError> {
        let mut text = lines.join("\n");
        text.push('\n');
        let layer = State::scratch()
            .file()
            // A fixed time keeps the layer (and so the step's cache key) deterministic.
            .mkfile(Mkfile::new(file, 0o755, text).timestamp(0))
            .custom_name(format!("[cachet] step script of {progress}"))
            .platform(platform.clone())
            .build()?;
        Ok(StepScript {
            layer,
            path: format!("{SCRIPT_DIR}/{file}"),
        })
    }

    /// The exec arguments: `sh` runs the script with `command` as its `"$@"`.
    pub(super) fn argv(&self, command: &[String]) -> Vec<String> {
        ["/bin/sh".to_string(), self.path.clone()]
            .into_iter()
            .chain(command.iter().cloned())
            .collect()
    }

    /// The read-only mount that makes the script visible to the exec.
    pub(super) fn mount(&self) -> Mount {
        Mount::bind(SCRIPT_DIR, &self.layer).readonly().into()
    }
}
