//! Prints which C library it runs against: linked dynamically, that is the base image's glibc,
//! not the SDK's.

use std::ffi::{c_char, CStr};

extern "C" {
    /// glibc's own version, from the `libc.so.6` the binary was loaded with.
    fn gnu_get_libc_version() -> *const c_char;
}

fn main() {
    // SAFETY: glibc returns a pointer to a static NUL-terminated string.
    let version = unsafe { CStr::from_ptr(gnu_get_libc_version()) };
    println!(
        "Hello from a dynamically linked Cachet build (glibc {})",
        version.to_string_lossy()
    );
}
