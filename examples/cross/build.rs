//! Compiles `csrc/arch.c` for the target with the `cc` crate, which picks the compiler from
//! `CC_<triple>` (Cachet's cross environment names the Debian cross compiler there), and hands
//! the target triple to the binary.

fn main() {
    println!("cargo:rerun-if-changed=csrc/arch.c");
    cc::Build::new().file("csrc/arch.c").compile("cachetarch");
    let target = std::env::var("TARGET").expect("cargo sets TARGET");
    println!("cargo:rustc-env=CACHET_TARGET={target}");
}
