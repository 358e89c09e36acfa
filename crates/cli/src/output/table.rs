//! Trivy-style tables: one per result, a severity total line, box-drawn rows; secrets as
//! one block per finding with its masked code lines.

use sightline_report::report::{Report, ScanResult, SeverityCounts, CLASS_SECRET};

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
        out.push_str(&format!("\n{}: no findings\n", report.artifact_name));
    }
    for r in &report.results {
        if r.class == CLASS_SECRET {
            secrets(&mut out, r);
            continue;
        }
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

/// One secret result: `<target> (secrets)`, totals, then per finding the rule, where it
/// is (path:line and layer) and the masked lines around it.
fn secrets(out: &mut String, r: &ScanResult) {
    let mut c = SeverityCounts::default();
    for s in &r.secrets {
        c.add(s.severity);
    }
    let title = format!("{} (secrets)", r.target);
    out.push('\n');
    out.push_str(&title);
    out.push('\n');
    out.push_str(&"=".repeat(title.chars().count()));
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
    for s in &r.secrets {
        let rule = "═".repeat(60);
        let thin = "─".repeat(60);
        out.push_str(&format!(
            "\n{}: {} ({})\n{rule}\n{}\n{thin}\n",
            s.severity, s.category, s.rule_id, s.title
        ));
        let lines = if s.start_line == s.end_line {
            format!("{}", s.start_line)
        } else {
            format!("{}-{}", s.start_line, s.end_line)
        };
        let mut place = format!(" {}:{lines}", r.target);
        if !s.layer.diff_id.is_empty() {
            place.push_str(&format!(" (layer {}", s.layer.diff_id));
            if !s.layer.created_by.is_empty() {
                place.push_str(&format!(
                    ", created by '{}'",
                    truncate(&s.layer.created_by, 60)
                ));
            }
            place.push(')');
        }
        out.push_str(&place);
        out.push('\n');
        out.push_str(&thin);
        out.push('\n');
        if s.code.lines.is_empty() {
            out.push_str(&format!("{:>5} [ {}\n", s.start_line, s.matched));
        }
        for l in &s.code.lines {
            let mark = if l.is_cause { "[" } else { " " };
            out.push_str(&format!("{:>5} {mark} {}\n", l.number, l.content));
        }
        out.push_str(&thin);
        out.push('\n');
    }
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
    use sightline_report::report::{DetectedVulnerability, ReportMetadata, ScanResult};
    use sightline_report::vuln::{Severity, Status};

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
                secrets: vec![],
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

    #[test]
    fn renders_secrets_with_their_place_and_masked_lines() {
        use sightline_report::report::{Code, CodeLine, DetectedSecret, SecretLayer};
        let line = |n: usize, c: &str, cause: bool| CodeLine {
            number: n,
            content: c.into(),
            is_cause: cause,
            ..Default::default()
        };
        let report = Report {
            schema_version: 2,
            created_at: None,
            artifact_name: "img".into(),
            artifact_type: "container_image".into(),
            metadata: ReportMetadata::default(),
            results: vec![ScanResult {
                target: "/opt/app/.env".into(),
                class: "secret".into(),
                secrets: vec![DetectedSecret {
                    rule_id: "github-pat".into(),
                    category: "GitHub".into(),
                    severity: Severity::Critical,
                    title: "GitHub Personal Access Token".into(),
                    start_line: 2,
                    end_line: 2,
                    code: Code {
                        lines: vec![line(1, "A=1", false), line(2, "T=****", true)],
                    },
                    matched: "T=****".into(),
                    offset: 0,
                    layer: SecretLayer {
                        digest: "sha256:aa".into(),
                        diff_id: "sha256:bb".into(),
                        created_by: "COPY .env /opt/app/".into(),
                    },
                }],
                ..Default::default()
            }],
        };
        let t = table(&report);
        assert!(t.contains("/opt/app/.env (secrets)"), "{t}");
        assert!(t.contains("Total: 1 (UNKNOWN: 0, LOW: 0, MEDIUM: 0, HIGH: 0, CRITICAL: 1)"));
        assert!(t.contains("CRITICAL: GitHub (github-pat)"));
        assert!(
            t.contains(" /opt/app/.env:2 (layer sha256:bb, created by 'COPY .env /opt/app/')"),
            "{t}"
        );
        assert!(
            t.contains("    2 [ T=****\n") && t.contains("    1   A=1\n"),
            "{t}"
        );
    }
}
