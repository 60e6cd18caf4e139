//! Generated sources of the CI cache tests' crates.

/// The registry crate's source: `line()` plus some generic code, so compiling it is real work
/// (and visible as `Compiling cachet-dep-ci`).
pub fn dep_source(line: &str) -> String {
    format!(
        r#"//! A test dependency served by the local registry.

pub fn line() -> &'static str {{
    {line:?}
}}

/// What this crate was compiled for: `linux/amd64/v2` and up have POPCNT, the baseline not.
pub fn level() -> &'static str {{
    if cfg!(target_feature = "popcnt") {{
        "popcnt"
    }} else {{
        "no popcnt"
    }}
}}

/// A little generic code, instantiated below, so the crate is more than a string.
pub trait Shape {{
    fn area(&self) -> f64;
    fn name(&self) -> String;
}}

#[derive(Clone, Debug, PartialEq)]
pub struct Rect {{
    pub w: f64,
    pub h: f64,
}}

#[derive(Clone, Debug, PartialEq)]
pub struct Circle {{
    pub r: f64,
}}

impl Shape for Rect {{
    fn area(&self) -> f64 {{
        self.w * self.h
    }}
    fn name(&self) -> String {{
        format!("rect {{}}x{{}}", self.w, self.h)
    }}
}}

impl Shape for Circle {{
    fn area(&self) -> f64 {{
        std::f64::consts::PI * self.r * self.r
    }}
    fn name(&self) -> String {{
        format!("circle {{}}", self.r)
    }}
}}

pub fn total<S: Shape>(shapes: &[S]) -> f64 {{
    shapes.iter().map(Shape::area).sum()
}}

pub fn describe(shapes: &[Box<dyn Shape>]) -> Vec<String> {{
    let mut out: Vec<String> = shapes
        .iter()
        .map(|s| format!("{{}}: {{:.2}}", s.name(), s.area()))
        .collect();
    out.sort();
    out
}}

pub fn table() -> std::collections::BTreeMap<String, f64> {{
    let shapes: Vec<Box<dyn Shape>> = vec![
        Box::new(Rect {{ w: 2.0, h: 3.0 }}),
        Box::new(Circle {{ r: 1.0 }}),
        Box::new(Rect {{ w: 1.5, h: 4.0 }}),
    ];
    shapes.iter().map(|s| (s.name(), s.area())).collect()
}}
"#
    )
}

/// A proc-macro crate deriving `name` that adds `fn <method>() -> &'static str` returning
/// `says` to a struct; `proc_macro` only (no registry).
pub fn derive_crate(name: &str, derive: &str, method: &str, says: &str) -> [(String, String); 2] {
    [
        (
            "Cargo.toml".to_string(),
            format!(
                "[package]\nname = \"{name}\"\nversion = \"1.0.0\"\nedition = \"2021\"\n\n\
                 [lib]\nproc-macro = true\n"
            ),
        ),
        (
            "src/lib.rs".to_string(),
            format!(
                "use proc_macro::TokenStream;\n\n\
                 const SAYS: &str = {says:?};\n\n\
                 #[proc_macro_derive({derive})]\n\
                 pub fn derive(input: TokenStream) -> TokenStream {{\n    \
                 let name = input\n        .into_iter()\n        \
                 .skip_while(|t| t.to_string() != \"struct\")\n        \
                 .nth(1)\n        .expect(\"a struct\");\n    \
                 format!(\n        \
                 \"impl {{}} {{{{ pub fn {method}() -> &'static str {{{{ {{:?}} }}}} }}}}\",\n        \
                 name, SAYS\n    )\n    .parse()\n    .unwrap()\n}}\n"
            ),
        ),
    ]
}
