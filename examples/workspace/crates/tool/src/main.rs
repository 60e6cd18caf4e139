fn main() {
    println!("{}", greeting::line("tool"));
}
