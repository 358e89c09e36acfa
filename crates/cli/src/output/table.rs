//! Trivy-style tables: one per result, a severity total line, box-drawn rows.

use sightline_api::report::{Report, SeverityCounts};

const HEADERS: [&str; 7] = [
    "Library",
    "Vulnerability",
    "Severity",
    "Status",
    "Installed Version",
    "Fixed Version",
    "Title",
];
const TITLE_MAX: usize = 60;

/// Renders every result of `report` as a table.
pub fn table(report: &Report) -> String {
    let mut out = String::new();
    if report.results.is_empty() {
        out.push_str(&format!(
            "\n{}: no OS detected, nothing to match\n",
            report.artifact_name
        ));
    }
    for r in &report.results {
        let c = SeverityCounts::of(&r.vulnerabilities);
        out.push('\n');
        out.push_str(&r.target);
        out.push('\n');
        out.push_str(&"=".repeat(r.target.chars().count()));
        out.push('\n');
        out.push_str(&format!(
            "Total: {} (UNKNOWN: {}, LOW: {}, MEDIUM: {}, HIGH: {}, CRITICAL: {})\n",
            c.total(),
            c.unknown,
            c.low,
            c.medium,
            c.high,
            c.critical
        ));
        if r.vulnerabilities.is_empty() {
            continue;
        }
        out.push('\n');
        let mut rows: Vec<[String; 7]> = Vec::with_capacity(r.vulnerabilities.len());
        let mut last_pkg = "";
        for v in &r.vulnerabilities {
            let lib = if v.pkg_name == last_pkg {
                String::new()
            } else {
                v.pkg_name.clone()
            };
            last_pkg = &v.pkg_name;
            let title = if v.title.is_empty() {
                v.primary_url.clone()
            } else {
                truncate(&v.title, TITLE_MAX)
            };
            rows.push([
                lib,
                v.vulnerability_id.clone(),
                v.severity.to_string(),
                v.status.to_string(),
                v.installed_version.clone(),
                v.fixed_version.clone(),
                title,
            ]);
        }
        render(&mut out, &rows);
    }
    out
}

fn truncate(s: &str, max: usize) -> String {
    let s = s.trim().replace('\n', " ");
    if s.chars().count() <= max {
        return s;
    }
    let mut t: String = s.chars().take(max - 3).collect();
    t.push_str("...");
    t
}

fn render(out: &mut String, rows: &[[String; 7]]) {
    let mut w: Vec<usize> = HEADERS.iter().map(|h| h.chars().count()).collect();
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            w[i] = w[i].max(c.chars().count());
        }
    }
    let line = |l: &str, m: &str, r: &str| {
        let mut s = String::from(l);
        for (i, wi) in w.iter().enumerate() {
            s.push_str(&"─".repeat(wi + 2));
            s.push_str(if i + 1 == w.len() { r } else { m });
        }
        s.push('\n');
        s
    };
    let row = |cells: &[&str]| {
        let mut s = String::from("│");
        for (c, wi) in cells.iter().zip(&w) {
            s.push(' ');
            s.push_str(c);
            s.push_str(&" ".repeat(wi - c.chars().count() + 1));
            s.push('│');
        }
        s.push('\n');
        s
    };
    out.push_str(&line("┌", "┬", "┐"));
    out.push_str(&row(&HEADERS));
    out.push_str(&line("├", "┼", "┤"));
    for r in rows {
        let cells: Vec<&str> = r.iter().map(String::as_str).collect();
        out.push_str(&row(&cells));
    }
    out.push_str(&line("└", "┴", "┘"));
}

#[cfg(test)]
mod tests {
    use super::*;
    use sightline_api::report::{DetectedVulnerability, ReportMetadata, ScanResult};
    use sightline_api::vuln::{Severity, Status};

    #[test]
    fn renders_totals_and_rows() {
        let v = |pkg: &str, id: &str, sev| DetectedVulnerability {
            pkg_name: pkg.into(),
            vulnerability_id: id.into(),
            severity: sev,
            status: Status::Fixed,
            installed_version: "1.0".into(),
            fixed_version: "1.1".into(),
            title: "a title".into(),
            ..Default::default()
        };
        let report = Report {
            schema_version: 2,
            created_at: None,
            artifact_name: "img".into(),
            artifact_type: "container_image".into(),
            metadata: ReportMetadata::default(),
            results: vec![ScanResult {
                target: "img (debian 12.15)".into(),
                class: "os-pkgs".into(),
                kind: "debian".into(),
                vulnerabilities: vec![
                    v("libc6", "CVE-1", Severity::High),
                    v("libc6", "CVE-2", Severity::Low),
                ],
            }],
        };
        let t = table(&report);
        assert!(
            t.contains("Total: 2 (UNKNOWN: 0, LOW: 1, MEDIUM: 0, HIGH: 1, CRITICAL: 0)"),
            "{t}"
        );
        assert_eq!(
            t.matches("libc6").count(),
            1,
            "repeated library names are blanked"
        );
        assert!(t.contains("│ CVE-2 "));
        let widths: std::collections::BTreeSet<_> = t
            .lines()
            .filter(|l| l.starts_with('│') || l.starts_with('┌'))
            .map(|l| l.chars().count())
            .collect();
        assert_eq!(widths.len(), 1, "all table lines have the same width:\n{t}");
    }
}
