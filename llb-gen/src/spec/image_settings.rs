//! Checks of an image target's runtime settings (`expose`, `volumes`, `stop-signal`,
//! `healthcheck`), as Docker reads them from an image config, so a value dockerd would refuse
//! or misread at `docker run` is a positioned error at build time instead.
//!
//! Each check returns the normalised value or the span to point at with a message; the loader
//! turns that into a [`super::SpecError`].

use std::ops::Range;

use toml::Spanned;

use super::error::shown;
use super::model::HealthcheckSection;
use super::resolved::Healthcheck;

pub(super) type Problem = (Range<usize>, String);

/// `PORT[/PROTOCOL]` → `PORT/protocol` (Docker's `nat.NewPort` form; tcp when omitted).
pub(super) fn exposed_port(entry: &Spanned<String>) -> Result<String, Problem> {
    let value = entry.get_ref();
    let (port, protocol) = value.split_once('/').unwrap_or((value, "tcp"));
    let valid_port = !port.is_empty()
        && port.len() <= 5
        && port.bytes().all(|b| b.is_ascii_digit())
        && !port.starts_with('0')
        && port.parse::<u32>().is_ok_and(|p| (1..=65535).contains(&p));
    if !valid_port || !matches!(protocol, "tcp" | "udp" | "sctp") {
        return Err((
            entry.span(),
            format!(
                "`{}`: expected `PORT` or `PORT/PROTOCOL` with a port from 1 to 65535 and \
                 protocol tcp, udp or sctp, such as `8080/tcp`",
                shown(value)
            ),
        ));
    }
    Ok(format!("{port}/{protocol}"))
}

/// A volume mount point: an absolute path with no NUL.
pub(super) fn volume(entry: &Spanned<String>) -> Result<String, Problem> {
    let value = entry.get_ref();
    if !value.starts_with('/') || value.contains('\0') {
        return Err((
            entry.span(),
            format!(
                "volume `{}`: expected an absolute path in the image, such as `/data`",
                shown(value)
            ),
        ));
    }
    Ok(value.clone())
}

/// `SIGTERM`, `SIGRTMIN+3` or a signal number, as `docker stop` accepts them.
pub(super) fn stop_signal(entry: &Spanned<String>) -> Result<String, Problem> {
    let value = entry.get_ref();
    let named = value.strip_prefix("SIG").is_some_and(|rest| {
        let (name, offset) = match rest.find(['+', '-']) {
            Some(i) => (&rest[..i], Some(&rest[i + 1..])),
            None => (rest, None),
        };
        !name.is_empty()
            && name
                .bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
            && offset.is_none_or(|o| !o.is_empty() && o.bytes().all(|b| b.is_ascii_digit()))
    });
    let numbered = value.parse::<u8>().is_ok_and(|n| n > 0) && !value.starts_with('0');
    if !named && !numbered {
        return Err((
            entry.span(),
            format!(
                "stop-signal `{}`: expected a signal name such as `SIGTERM` or `SIGRTMIN+3`, or \
                 a signal number",
                shown(value)
            ),
        ));
    }
    Ok(value.clone())
}

/// The `healthcheck` table, with Docker's rules: a test form it knows, durations it can
/// parse (at least 1ms, as `docker build` requires), retries of at least 1.
pub(super) fn healthcheck(section: &Spanned<HealthcheckSection>) -> Result<Healthcheck, Problem> {
    let h = section.get_ref();
    let Some(test) = &h.test else {
        return Err((
            section.span(),
            "this healthcheck has no `test`: write `test = [\"CMD\", \"/app\", \"--health\"]`, \
             `test = [\"CMD-SHELL\", \"…\"]` or `test = [\"NONE\"]`"
                .to_string(),
        ));
    };
    let words = test.get_ref();
    let valid = match words.first().map(String::as_str) {
        Some("CMD") => words.len() >= 2,
        Some("CMD-SHELL") => words.len() == 2,
        Some("NONE") => words.len() == 1,
        _ => false,
    };
    if !valid || words.iter().any(|w| w.contains('\0')) {
        return Err((
            test.span(),
            "expected `[\"CMD\", program, args…]`, `[\"CMD-SHELL\", \"one shell command\"]` or \
             `[\"NONE\"]` (disables the base image's health check)"
                .to_string(),
        ));
    }
    let disabled = words[0] == "NONE";
    let options = [
        ("interval", &h.interval),
        ("timeout", &h.timeout),
        ("start-period", &h.start_period),
    ];
    let mut parsed = [None; 3];
    for (slot, (key, value)) in parsed.iter_mut().zip(options) {
        let Some(value) = value else { continue };
        if disabled {
            return Err((
                value.span(),
                format!("`{key}` has no effect with `test = [\"NONE\"]`"),
            ));
        }
        let nanos = parse_duration(value.get_ref()).filter(|n| *n >= 1_000_000);
        let Some(nanos) = nanos else {
            return Err((
                value.span(),
                format!(
                    "{key} `{}`: expected a duration of at least 1ms, such as `30s`, `1m30s` or \
                     `500ms`",
                    shown(value.get_ref())
                ),
            ));
        };
        *slot = Some(nanos);
    }
    let retries = match &h.retries {
        Some(r) if disabled => {
            return Err((
                r.span(),
                "`retries` has no effect with `test = [\"NONE\"]`".into(),
            ))
        }
        Some(r) if *r.get_ref() == 0 => {
            return Err((r.span(), "retries: expected at least 1".into()));
        }
        r => r.as_ref().map(|r| *r.get_ref()),
    };
    let [interval_ns, timeout_ns, start_period_ns] = parsed;
    Ok(Healthcheck {
        test: words.clone(),
        interval_ns,
        timeout_ns,
        start_period_ns,
        retries,
    })
}

/// Go's `time.ParseDuration` for non-negative values: one or more `<number><unit>` with units
/// `ns`, `us`/`µs`, `ms`, `s`, `m`, `h`; nanoseconds, `None` when malformed or past u64.
pub(super) fn parse_duration(text: &str) -> Option<u64> {
    const UNITS: [(&str, u64); 7] = [
        ("ns", 1),
        ("us", 1_000),
        ("µs", 1_000),
        ("ms", 1_000_000),
        ("s", 1_000_000_000),
        ("m", 60_000_000_000),
        ("h", 3_600_000_000_000),
    ];
    if text.is_empty() {
        return None;
    }
    let mut rest = text;
    let mut total: u64 = 0;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit() && c != '.')
            .unwrap_or(rest.len());
        let (number, tail) = rest.split_at(digits);
        let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
        if whole.is_empty() && fraction.is_empty() {
            return None;
        }
        // The longest unit that matches (`ms` before `m`).
        let (unit, scale) = UNITS
            .iter()
            .filter(|(u, _)| tail.starts_with(u))
            .max_by_key(|(u, _)| u.len())?;
        let whole: u64 = if whole.is_empty() {
            0
        } else {
            whole.parse().ok()?
        };
        let mut value = whole.checked_mul(*scale)?;
        // Fractions down to the nanosecond, as Go keeps them.
        let mut place = *scale;
        for digit in fraction.bytes() {
            if !digit.is_ascii_digit() {
                return None;
            }
            place /= 10;
            value = value.checked_add(u64::from(digit - b'0') * place)?;
        }
        total = total.checked_add(value)?;
        rest = &tail[unit.len()..];
    }
    Some(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spanned<T>(value: T) -> Spanned<T> {
        Spanned::new(3..9, value)
    }

    #[test]
    fn durations_parse_as_go_does() {
        assert_eq!(parse_duration("30s"), Some(30_000_000_000));
        assert_eq!(parse_duration("1m30s"), Some(90_000_000_000));
        assert_eq!(parse_duration("500ms"), Some(500_000_000));
        assert_eq!(parse_duration("1.5h"), Some(5_400_000_000_000));
        assert_eq!(parse_duration("2µs"), Some(2_000));
        for bad in ["", "30", "s", "1x", "-1s", "1..5s", "99999999999999999999h"] {
            assert_eq!(parse_duration(bad), None, "{bad}");
        }
    }

    #[test]
    fn ports_default_to_tcp_and_are_range_checked() {
        assert_eq!(exposed_port(&spanned("80".into())).unwrap(), "80/tcp");
        assert_eq!(exposed_port(&spanned("53/udp".into())).unwrap(), "53/udp");
        assert_eq!(
            exposed_port(&spanned("65535/sctp".into())).unwrap(),
            "65535/sctp"
        );
        for bad in [
            "0",
            "65536",
            "080",
            "80/http",
            "80/",
            "/tcp",
            "8080-8090",
            "x",
        ] {
            let (span, message) = exposed_port(&spanned(bad.into())).unwrap_err();
            assert_eq!(span, 3..9);
            assert!(message.contains("1 to 65535"), "{bad}: {message}");
        }
    }

    #[test]
    fn signals_are_names_or_numbers() {
        for good in ["SIGTERM", "SIGRTMIN+3", "SIGQUIT", "9", "15"] {
            assert!(stop_signal(&spanned(good.into())).is_ok(), "{good}");
        }
        for bad in [
            "",
            "TERM",
            "sigterm",
            "SIG",
            "0",
            "SIGRTMIN+",
            "SIG TERM",
            "256",
        ] {
            assert!(stop_signal(&spanned(bad.into())).is_err(), "{bad}");
        }
    }

    fn check(
        test: &[&str],
        interval: Option<&str>,
        retries: Option<u32>,
    ) -> Result<Healthcheck, Problem> {
        healthcheck(&spanned(HealthcheckSection {
            test: Some(spanned(test.iter().map(|s| s.to_string()).collect())),
            interval: interval.map(|i| spanned(i.to_string())),
            timeout: None,
            start_period: None,
            retries: retries.map(spanned),
        }))
    }

    #[test]
    fn healthchecks_follow_docker_rules() {
        let h = check(&["CMD", "/app", "--health"], Some("10s"), Some(2)).unwrap();
        assert_eq!(h.interval_ns, Some(10_000_000_000));
        assert_eq!(h.retries, Some(2));
        assert_eq!(h.timeout_ns, None);
        assert!(check(&["CMD-SHELL", "curl -f localhost"], None, None).is_ok());
        assert_eq!(check(&["NONE"], None, None).unwrap().test, ["NONE"]);
        for bad in [
            &["CMD"][..],
            &["CMD-SHELL", "a", "b"],
            &["NONE", "x"],
            &["/app"],
            &[],
        ] {
            assert!(check(bad, None, None).is_err(), "{bad:?}");
        }
        assert!(
            check(&["CMD", "/app"], Some("0s"), None).is_err(),
            "below 1ms"
        );
        assert!(
            check(&["CMD", "/app"], Some("10"), None).is_err(),
            "no unit"
        );
        assert!(check(&["CMD", "/app"], None, Some(0)).is_err());
        let (_, message) = check(&["NONE"], Some("1s"), None).unwrap_err();
        assert!(message.contains("no effect"), "{message}");
    }
}
