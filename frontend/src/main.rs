//! Cachet gateway frontend.
fn main() {}
