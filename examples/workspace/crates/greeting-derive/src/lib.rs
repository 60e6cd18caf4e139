//! `#[derive(Speaker)]`: makes a type a speaker of the workspace's phrase.
//!
//! It is here so that building the workspace compiles a proc-macro. A proc-macro is host code
//! (a library the compiler loads), and it cannot be linked statically: the spec's
//! `-C target-feature=+crt-static` must reach the binaries only, which is what Cachet's
//! `--target` does. Written against `proc_macro` alone, without `syn` or `quote`, so the example
//! needs no registry.

use proc_macro::{TokenStream, TokenTree};

/// Implements `greeting::Speaker` for a struct or enum without generics: `NAME` is the type's
/// name in lowercase.
#[proc_macro_derive(Speaker)]
pub fn derive_speaker(input: TokenStream) -> TokenStream {
    let mut tokens = input.into_iter();
    // Attributes, visibility and doc comments come first; the name follows the keyword.
    let name = loop {
        match tokens.next() {
            Some(TokenTree::Ident(keyword))
                if matches!(keyword.to_string().as_str(), "struct" | "enum") =>
            {
                match tokens.next() {
                    Some(TokenTree::Ident(name)) => break name.to_string(),
                    _ => return error("expected a type name after `struct` or `enum`"),
                }
            }
            Some(_) => continue,
            None => return error("`#[derive(Speaker)]` works on a struct or an enum"),
        }
    };
    if let Some(TokenTree::Punct(p)) = tokens.next() {
        if p.as_char() == '<' {
            return error("`#[derive(Speaker)]` does not support generic types");
        }
    }
    format!(
        "impl ::greeting::Speaker for {name} {{ const NAME: &'static str = {:?}; }}",
        name.to_lowercase()
    )
    .parse()
    .expect("the generated impl is Rust")
}

/// A compile error with `message`, at the derive.
fn error(message: &str) -> TokenStream {
    format!("compile_error!({message:?});")
        .parse()
        .expect("a compile_error! call is Rust")
}
