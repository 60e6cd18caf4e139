use greeting::Speaker;

/// The binary speaks as `tool`: `#[derive(Speaker)]` names it after the type.
#[derive(Speaker)]
struct Tool;

fn main() {
    println!("{}", Tool::line());
}
