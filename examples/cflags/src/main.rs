use std::os::raw::c_int;

extern "C" {
    fn cachet_level() -> c_int;
    fn cachet_optimized() -> c_int;
}

fn main() {
    // SAFETY: both functions take no arguments, touch no state and only return an int.
    let (level, optimized) = unsafe { (cachet_level(), cachet_optimized()) };
    println!("cflags level {level} (optimized: {})", optimized != 0);
}
