//! End-of-support dates per OS release (Trivy's `EOSL` flag).

use chrono::{DateTime, NaiveDate, Utc};
use sightline_inventory::{OsFamily, OsInfo};

/// (release prefix, end of support) per family; the release is matched on its major
/// (Debian) or major.minor (Alpine, Ubuntu).
const DEBIAN: &[(&str, (i32, u32, u32))] = &[
    ("7", (2018, 5, 31)),
    ("8", (2020, 6, 30)),
    ("9", (2022, 6, 30)),
    ("10", (2024, 6, 30)),
    ("11", (2026, 8, 31)),
    ("12", (2028, 6, 30)),
    ("13", (2030, 6, 30)),
];
const UBUNTU: &[(&str, (i32, u32, u32))] = &[
    ("16.04", (2021, 4, 30)),
    ("18.04", (2023, 5, 31)),
    ("20.04", (2025, 5, 31)),
    ("22.04", (2027, 6, 1)),
    ("23.10", (2024, 7, 11)),
    ("24.04", (2029, 5, 31)),
    ("24.10", (2025, 7, 10)),
    ("25.04", (2026, 1, 15)),
    ("25.10", (2026, 7, 9)),
];
const ALPINE: &[(&str, (i32, u32, u32))] = &[
    ("3.15", (2023, 11, 1)),
    ("3.16", (2024, 5, 23)),
    ("3.17", (2024, 11, 22)),
    ("3.18", (2025, 5, 9)),
    ("3.19", (2025, 11, 1)),
    ("3.20", (2026, 4, 1)),
    ("3.21", (2026, 11, 1)),
    ("3.22", (2027, 5, 1)),
    ("3.23", (2027, 11, 1)),
];

/// The end-of-support date of `os`, when known.
pub fn end_of_support(os: &OsInfo) -> Option<NaiveDate> {
    let (table, key) = match os.family {
        OsFamily::Debian => (
            DEBIAN,
            os.name.split('.').next().unwrap_or_default().to_string(),
        ),
        OsFamily::Ubuntu => (
            UBUNTU,
            os.name.split('.').take(2).collect::<Vec<_>>().join("."),
        ),
        OsFamily::Alpine => (
            ALPINE,
            os.name.split('.').take(2).collect::<Vec<_>>().join("."),
        ),
        OsFamily::Other(_) => return None,
    };
    let (_, (y, m, d)) = table.iter().find(|(k, _)| *k == key)?;
    NaiveDate::from_ymd_opt(*y, *m, *d)
}

/// `true` when `os` is past its end of support at `now` (unknown releases are not flagged).
pub fn is_eosl(os: &OsInfo, now: DateTime<Utc>) -> bool {
    end_of_support(os).is_some_and(|d| now.date_naive() > d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eosl() {
        let at = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc);
        let deb = |n: &str| OsInfo {
            family: OsFamily::Debian,
            name: n.into(),
        };
        assert!(!is_eosl(&deb("12.15"), at("2026-11-27T00:00:00Z")));
        assert!(is_eosl(&deb("10.13"), at("2026-11-27T00:00:00Z")));
        assert!(!is_eosl(&deb("99"), at("2026-11-27T00:00:00Z")));
        let alp = OsInfo {
            family: OsFamily::Alpine,
            name: "3.23.6".into(),
        };
        assert!(!is_eosl(&alp, at("2026-11-27T00:00:00Z")));
        assert!(is_eosl(&alp, at("2028-01-01T00:00:00Z")));
    }
}
