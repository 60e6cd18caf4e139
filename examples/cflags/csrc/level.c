/* Compiled by build.rs with the flags in $CFLAGS: what it returns depends on them. */

#ifndef CACHET_LEVEL
#define CACHET_LEVEL 0
#endif

int cachet_level(void) { return CACHET_LEVEL; }

int cachet_optimized(void) {
#ifdef __OPTIMIZE__
    return 1;
#else
    return 0;
#endif
}
