fn main() {
    println!("{}", greeting::line("app"));
}
