//! `${NAME}` substitution of declared build arguments into spec values.
//!
//! Only names declared under `[args]` may be used, so a typo is an error, not an empty string.
//! `$${` writes a literal `${`.

use std::collections::BTreeMap;

/// Replaces `${NAME}` in `value`; on an unknown or unterminated reference returns a message
/// and the byte offset (within `value`) of the `$` that starts it.
pub fn interpolate(
    value: &str,
    args: &BTreeMap<String, String>,
) -> Result<String, (usize, String)> {
    let mut out = String::with_capacity(value.len());
    let mut rest = value;
    let mut consumed = 0;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        if let Some(escaped) = after.strip_prefix("${") {
            out.push_str("${");
            consumed += i + 3;
            rest = escaped;
        } else if let Some(body) = after.strip_prefix('{') {
            let Some(end) = body.find('}') else {
                return Err((consumed + i, "unterminated `${`: expected `}`".to_string()));
            };
            let name = &body[..end];
            match args.get(name) {
                Some(v) => out.push_str(v),
                None => {
                    return Err((
                        consumed + i,
                        format!("`${{{name}}}` names no build argument; declare it under [args]"),
                    ))
                }
            }
            consumed += i + 2 + end + 1;
            rest = &body[end + 1..];
        } else {
            out.push('$');
            consumed += i + 1;
            rest = after;
        }
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args() -> BTreeMap<String, String> {
        BTreeMap::from([("CPU".to_string(), "x86-64-v2".to_string())])
    }

    #[test]
    fn substitutes_declared_names() {
        assert_eq!(
            interpolate("target-cpu=${CPU}", &args()).unwrap(),
            "target-cpu=x86-64-v2"
        );
        assert_eq!(
            interpolate("${CPU}${CPU}", &args()).unwrap(),
            "x86-64-v2x86-64-v2"
        );
    }

    #[test]
    fn leaves_plain_dollars_and_unescapes() {
        assert_eq!(interpolate("$HOME $", &args()).unwrap(), "$HOME $");
        assert_eq!(interpolate("$${CPU}", &args()).unwrap(), "${CPU}");
    }

    #[test]
    fn rejects_undeclared_and_unterminated() {
        let (at, msg) = interpolate("a ${NOPE}", &args()).unwrap_err();
        assert_eq!(at, 2);
        assert!(msg.contains("NOPE"), "{msg}");
        let (at, _) = interpolate("${CPU} ${CPU", &args()).unwrap_err();
        assert_eq!(at, 7);
    }
}
