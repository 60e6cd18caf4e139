use greeting::Speaker;

/// The binary speaks as `app`: `#[derive(Speaker)]` names it after the type.
#[derive(Speaker)]
struct App;

fn main() {
    println!("{}", App::line());
}
