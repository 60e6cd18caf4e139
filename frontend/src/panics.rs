//! A panic in the frontend reaches the user as a message, never as a bare signal exit.
//!
//! BuildKit shows a frontend that dies without `Return` as `exit code: 139` or similar, which
//! tells the user nothing. So the frontend is built to unwind (the workspace's release profile
//! keeps `panic = "unwind"` for this reason), the build runs under
//! [`futures_util::FutureExt::catch_unwind`], and a panic is turned into an error that names
//! the spec, what panicked and where, and asks for a report. A hook records the panic's
//! location (the payload carries only the message) and logs it to the daemon's log.

use std::any::Any;
use std::sync::Mutex;

/// Where the last panic happened, as `file:line:column`, recorded by [`install_hook`].
static LAST_LOCATION: Mutex<Option<String>> = Mutex::new(None);

/// Records each panic's location and logs it, keeping Rust's default report on stderr.
pub fn install_hook() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let location = info
            .location()
            .map(|l| format!("{}:{}:{}", l.file(), l.line(), l.column()));
        if let Ok(mut last) = LAST_LOCATION.lock() {
            last.clone_from(&location);
        }
        default(info);
    }));
}

/// The message a user sees for a panic with `payload` while building `spec`.
pub fn message(spec: &str, payload: &(dyn Any + Send)) -> String {
    let what = payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".to_string());
    let location = LAST_LOCATION
        .lock()
        .ok()
        .and_then(|l| l.clone())
        .map(|l| format!(" at {l}"))
        .unwrap_or_default();
    format!(
        "{spec}: the Cachet frontend failed on this spec: {what}{location}. This is a bug in \
         Cachet, not in your spec or project: please report it with the spec and the build \
         arguments"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_becomes_a_message_naming_the_spec_what_and_where() {
        install_hook();
        let payload = std::panic::catch_unwind(|| panic!("index {} out of range", 7)).unwrap_err();
        let text = message("Cachet.toml", payload.as_ref());
        assert!(
            text.starts_with(
                "Cachet.toml: the Cachet frontend failed on this spec: index 7 out of range at "
            ),
            "{text}"
        );
        assert!(text.contains("frontend/src/panics.rs:"), "{text}");
        let payload = std::panic::catch_unwind(|| std::panic::panic_any(3_u8)).unwrap_err();
        assert!(message("x.toml", payload.as_ref()).contains("a panic without a message"));
    }
}
