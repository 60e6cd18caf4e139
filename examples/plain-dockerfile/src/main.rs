fn main() {
    println!("Hello from a plain Dockerfile build!");
}
