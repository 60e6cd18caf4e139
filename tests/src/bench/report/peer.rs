//! The "Cachet vs best peer" column: per scenario, Cachet against the fastest alternative a user
//! could pick instead (plain, cache-mount, cargo-chef), so "ahead or behind" reads at a glance.
//! Host cargo is the floor, not a peer: the goals compare with it where the issue asks.

use super::{round2, signed_seconds, Medians};
use crate::bench::{Contender, Scenario};

/// What a user could pick instead of Cachet.
pub(super) const PEERS: &[Contender] = &[Contender::Plain, Contender::CacheMount, Contender::Chef];

/// Below this many seconds (the best peer's median), a build is mostly fixed overhead and a
/// ratio says little: the cell shows the difference in seconds instead.
const SUB_SECOND: f64 = 1.0;

/// The cell, e.g. `1.07× cache-mount`, `+0.81 s vs cargo-chef`, bold when Cachet is ahead by
/// what the cell shows (a ratio under `1.00×`, a difference under `0.00 s`); `–` while
/// Cachet's or every peer's median is missing.
pub(super) fn cell(scenario: Scenario, m: &Medians) -> String {
    let (Some(cachet), Some((peer, best))) = (
        m.get(Contender::Cachet, scenario),
        m.fastest(PEERS, scenario),
    ) else {
        return "–".to_string();
    };
    let (text, ahead) = if best < SUB_SECOND {
        let diff = cachet - best;
        let text = format!("{} vs {}", signed_seconds(diff), peer.name());
        (text, round2(diff) < 0.0)
    } else {
        let ratio = cachet / best;
        (format!("{ratio:.2}× {}", peer.name()), round2(ratio) < 1.0)
    };
    if ahead {
        format!("**{text}**")
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Contender::{CacheMount, Cachet, Chef, Host, Plain};

    fn medians(entries: &[(Contender, f64)]) -> Medians {
        Medians(
            entries
                .iter()
                .map(|&(c, v)| ((c, Scenario::Cold), v))
                .collect(),
        )
    }

    #[test]
    fn behind_the_fastest_peer_is_a_plain_ratio() {
        let m = medians(&[
            (Plain, 66.3),
            (CacheMount, 33.9),
            (Chef, 34.2),
            (Cachet, 36.2),
            (Host, 20.0),
        ]);
        assert_eq!(
            cell(Scenario::Cold, &m),
            "1.07× cache-mount",
            "host is no peer"
        );
    }

    #[test]
    fn ahead_is_bold() {
        let m = medians(&[
            (Plain, 33.4),
            (CacheMount, 33.3),
            (Chef, 18.5),
            (Cachet, 14.3),
        ]);
        assert_eq!(cell(Scenario::Cold, &m), "**0.77× cargo-chef**");
    }

    #[test]
    fn sub_second_builds_show_the_difference_in_seconds() {
        let behind = medians(&[
            (Plain, 0.56),
            (CacheMount, 0.41),
            (Chef, 0.37),
            (Cachet, 1.18),
        ]);
        assert_eq!(cell(Scenario::Cold, &behind), "+0.81 s vs cargo-chef");
        let ahead = medians(&[(CacheMount, 0.41), (Cachet, 0.30)]);
        assert_eq!(cell(Scenario::Cold, &ahead), "**-0.11 s vs cache-mount**");
    }

    #[test]
    fn ahead_by_less_than_the_cell_shows_is_not_bold() {
        let tie = medians(&[(Plain, 0.3452), (Cachet, 0.3449)]);
        assert_eq!(cell(Scenario::Cold, &tie), "+0.00 s vs plain");
        let tie = medians(&[(Plain, 20.0), (Cachet, 19.95)]);
        assert_eq!(cell(Scenario::Cold, &tie), "1.00× plain");
    }

    #[test]
    fn missing_medians_leave_a_dash() {
        assert_eq!(cell(Scenario::Cold, &medians(&[(Cachet, 1.0)])), "–");
        assert_eq!(cell(Scenario::Cold, &medians(&[(Plain, 1.0)])), "–");
    }
}
