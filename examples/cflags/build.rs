//! Compiles `csrc/level.c` with `$CC` (default `cc`) and the flags in `$CFLAGS`, archives it
//! into `libcachetlevel.a` in OUT_DIR and links it. No external crates: just the compiler and
//! `ar` from the SDK.

use std::env;
use std::path::PathBuf;
use std::process::Command;

fn run(cmd: &mut Command) {
    let status = cmd
        .status()
        .unwrap_or_else(|e| panic!("cannot start {cmd:?}: {e}"));
    assert!(status.success(), "{cmd:?} failed: {status}");
}

fn main() {
    println!("cargo:rerun-if-changed=csrc/level.c");
    println!("cargo:rerun-if-env-changed=CC");
    println!("cargo:rerun-if-env-changed=CFLAGS");

    let out = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let cc = env::var("CC").unwrap_or_else(|_| "cc".to_string());
    let cflags = env::var("CFLAGS").unwrap_or_default();
    let object = out.join("level.o");

    run(Command::new(&cc)
        .args(cflags.split_whitespace())
        .args(["-fPIC", "-c", "csrc/level.c", "-o"])
        .arg(&object));
    let archive = out.join("libcachetlevel.a");
    // `ar crs` appends: start from an empty archive so a rebuild never keeps a stale member.
    let _ = std::fs::remove_file(&archive);
    run(Command::new("ar").arg("crs").arg(&archive).arg(&object));

    println!("cargo:rustc-link-search=native={}", out.display());
    println!("cargo:rustc-link-lib=static=cachetlevel");
}
