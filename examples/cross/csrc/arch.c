/* What the C compiler was compiling for: proves the cross compiler (not the host's) ran. */
const char *cachet_c_arch(void) {
#if defined(__x86_64__)
    return "x86_64";
#elif defined(__aarch64__)
    return "aarch64";
#elif defined(__riscv)
    return "riscv64";
#else
    return "unknown";
#endif
}
