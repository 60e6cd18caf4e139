fn main() {
    println!("Hello from a Cachet build!");
}
