use std::ffi::CStr;
use std::os::raw::c_char;

extern "C" {
    fn cachet_c_arch() -> *const c_char;
}

fn main() {
    // SAFETY: the C function takes no arguments and returns a pointer to a static string.
    let c_arch = unsafe { CStr::from_ptr(cachet_c_arch()) }.to_string_lossy();
    println!(
        "target {} · rust arch {} · c arch {c_arch}",
        env!("CACHET_TARGET"),
        std::env::consts::ARCH
    );
}
