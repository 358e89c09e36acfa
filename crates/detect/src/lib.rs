//! Vulnerability detection: an [`Inventory`] matched against a trivy-db [`VulnDb`].
//!
//! Matching follows Trivy's OS detectors so results line up with Trivy's on the same DB:
//! * Debian / Ubuntu: advisories of the **source** package in `debian <major>` /
//!   `ubuntu <version>`, compared with the **source** version under dpkg ordering; an
//!   advisory without a fixed version always matches (status `affected` unless stated).
//! * Alpine: advisories of the **origin** in `alpine <major.minor>`, installed version
//!   compared with apk ordering; an advisory needs a fixed version (`"0"` = never affected).
//!
//! Each finding is then filled from the `vulnerability` bucket (title, description, CVSS,
//! dates) with Trivy's severity choice: the package's own severity from the data source,
//! else the data source's vendor severity, else NVD's, else the vulnerability's own.

pub mod eol;
pub mod purl;

use std::cmp::Ordering;
use std::collections::HashMap;

use sightline_inventory::{Inventory, OsFamily, OsInfo, Package};
use sightline_report::report::{sort_vulnerabilities, DetectedVulnerability, PkgIdentifier};
use sightline_report::vuln::{DataSource, Severity, Status, VulnerabilityDetail};
use sightline_version::Scheme;
use sightline_vulndb::{Advisory, DbError, VulnDb};

/// Detection errors (the DB could not be read). Version parse problems are warnings.
#[derive(Debug, thiserror::Error)]
pub enum DetectError {
    /// Reading the DB failed.
    #[error(transparent)]
    Db(#[from] DbError),
}

/// Findings for the OS packages of one inventory.
#[derive(Debug, Clone, Default)]
pub struct OsFindings {
    /// The trivy-db bucket used (`debian 12`), `None` when the OS is unsupported/unknown.
    pub platform: Option<String>,
    /// Findings, in Trivy's order.
    pub vulnerabilities: Vec<DetectedVulnerability>,
    /// Things the user should know (unsupported OS, unparsable versions, empty bucket).
    pub warnings: Vec<String>,
}

/// The version scheme of an OS family's packages.
pub fn scheme_for(family: &OsFamily) -> Option<Scheme> {
    match family {
        OsFamily::Debian | OsFamily::Ubuntu => Some(Scheme::Dpkg),
        OsFamily::Alpine => Some(Scheme::Apk),
        OsFamily::Other(_) => None,
    }
}

/// Matches the OS packages of `inv` against `db`.
pub fn detect_os(db: &VulnDb, inv: &Inventory) -> Result<OsFindings, DetectError> {
    let mut out = OsFindings::default();
    let Some(os) = &inv.os else {
        if !inv.os_packages.is_empty() {
            out.warnings
                .push("OS not detected: OS packages were not matched".into());
        }
        return Ok(out);
    };
    let (Some(platform), Some(scheme)) = (os.platform_bucket(), scheme_for(&os.family)) else {
        out.warnings
            .push(format!("unsupported OS {os}: OS packages were not matched"));
        return Ok(out);
    };
    let data_source = db.data_source(&platform)?;
    let mut details = DetailCache::new(db);
    let mut by_source: HashMap<&str, Vec<Advisory>> = HashMap::new();
    let mut any_advisories = false;
    for pkg in &inv.os_packages {
        if !by_source.contains_key(pkg.src_name.as_str()) {
            let adv = db.advisories(&platform, &pkg.src_name)?;
            any_advisories |= !adv.is_empty();
            by_source.insert(&pkg.src_name, adv);
        }
        for adv in &by_source[pkg.src_name.as_str()] {
            match is_vulnerable(scheme, &os.family, pkg, adv) {
                Ok(true) => {}
                Ok(false) => continue,
                Err(w) => {
                    out.warnings.push(w);
                    continue;
                }
            }
            let mut v = finding(os, pkg, adv, data_source.as_ref());
            fill_details(
                &mut v,
                details.get(&adv.vulnerability_id)?,
                data_source.as_ref(),
            );
            out.vulnerabilities.push(v);
        }
    }
    if !any_advisories
        && !inv.os_packages.is_empty()
        && db.platforms()?.iter().all(|p| *p != platform)
    {
        out.warnings.push(format!(
            "the vulnerability DB has no advisories for {platform}: findings for {os} may be missing"
        ));
    }
    sort_vulnerabilities(&mut out.vulnerabilities);
    out.platform = Some(platform);
    Ok(out)
}

/// Trivy's per-family vulnerability test. `Err` carries a warning for unparsable versions.
fn is_vulnerable(
    scheme: Scheme,
    family: &OsFamily,
    pkg: &Package,
    adv: &Advisory,
) -> Result<bool, String> {
    let cmp = |a: &str, b: &str| {
        sightline_version::compare(scheme, a, b).map_err(|e| {
            format!(
                "{} ({}): {e}; advisory {} skipped",
                pkg.name, pkg.src_name, adv.vulnerability_id
            )
        })
    };
    match family {
        OsFamily::Alpine => {
            if !adv.affected_version.is_empty()
                && cmp(&pkg.version, &adv.affected_version)? == Ordering::Less
            {
                return Ok(false);
            }
            if adv.fixed_version.is_empty() {
                return Ok(false);
            }
            Ok(cmp(&pkg.version, &adv.fixed_version)? == Ordering::Less)
        }
        _ => {
            if adv.fixed_version.is_empty() {
                return Ok(true);
            }
            Ok(cmp(&pkg.src_version, &adv.fixed_version)? == Ordering::Less)
        }
    }
}

fn finding(
    os: &OsInfo,
    pkg: &Package,
    adv: &Advisory,
    ds: Option<&DataSource>,
) -> DetectedVulnerability {
    let status = match adv.status {
        Status::Unknown if adv.fixed_version.is_empty() => Status::Affected,
        Status::Unknown => Status::Fixed,
        s => s,
    };
    let mut v = DetectedVulnerability {
        vulnerability_id: adv.vulnerability_id.clone(),
        vendor_ids: adv.vendor_ids.clone(),
        pkg_id: pkg.id.clone(),
        pkg_name: pkg.name.clone(),
        pkg_identifier: PkgIdentifier {
            purl: purl::os_package(os, pkg),
        },
        installed_version: pkg.version.clone(),
        fixed_version: adv.fixed_version.clone(),
        status,
        data_source: ds.cloned(),
        ..Default::default()
    };
    if adv.severity != Severity::Unknown {
        // Package-specific severity from the data source wins (Trivy: SeveritySource = source id).
        v.severity = adv.severity;
        v.severity_source = ds
            .map(|d| d.id.clone())
            .unwrap_or_else(|| os.family.to_string());
    }
    v
}

/// Fills title, description, CVSS, dates, references and severity (Trivy's `FillInfo`).
fn fill_details(
    v: &mut DetectedVulnerability,
    detail: Option<&VulnerabilityDetail>,
    ds: Option<&DataSource>,
) {
    let source_id = ds.map(|d| d.id.as_str()).unwrap_or_default();
    if let Some(d) = detail {
        v.title = d.title.clone();
        v.description = d.description.clone();
        v.cwe_ids = d.cwe_ids.clone();
        v.vendor_severity = d.vendor_severity.clone();
        v.cvss = d.cvss.clone();
        v.references = d.references.clone();
        v.published_date = d.published_date.clone();
        v.last_modified_date = d.last_modified_date.clone();
    }
    if v.severity_source.is_empty() {
        let (sev, src) = vendor_severity(detail, source_id);
        v.severity = sev;
        v.severity_source = src;
    }
    v.primary_url = primary_url(&v.vulnerability_id, &v.references);
}

fn vendor_severity(detail: Option<&VulnerabilityDetail>, source_id: &str) -> (Severity, String) {
    let Some(d) = detail else {
        return (Severity::Unknown, String::new());
    };
    if let Some(s) = d.vendor_severity.get(source_id) {
        return (*s, source_id.to_string());
    }
    if let Some(s) = d.vendor_severity.get("nvd") {
        return (*s, "nvd".to_string());
    }
    (
        d.severity.parse().unwrap_or(Severity::Unknown),
        String::new(),
    )
}

/// Trivy's primary link for an id: AVD for CVEs, the Debian tracker for TEMP ids, GitHub for
/// GHSA, OSV for RUSTSEC; otherwise the first reference from a known advisory site.
pub fn primary_url(id: &str, references: &[String]) -> String {
    if id.starts_with("CVE-") {
        return format!("https://avd.aquasec.com/nvd/{}", id.to_ascii_lowercase());
    }
    if id.starts_with("TEMP-") {
        return format!("https://security-tracker.debian.org/tracker/{id}");
    }
    if id.starts_with("GHSA-") {
        return format!("https://github.com/advisories/{id}");
    }
    if id.starts_with("RUSTSEC-") {
        return format!("https://osv.dev/vulnerability/{id}");
    }
    const KNOWN: [&str; 4] = [
        "https://security.alpinelinux.org/",
        "https://security-tracker.debian.org/",
        "https://ubuntu.com/security/",
        "https://access.redhat.com/",
    ];
    references
        .iter()
        .find(|r| KNOWN.iter().any(|k| r.starts_with(k)))
        .cloned()
        .unwrap_or_default()
}

/// Looks each vulnerability id up once per detection run.
struct DetailCache<'a> {
    db: &'a VulnDb,
    seen: HashMap<String, Option<VulnerabilityDetail>>,
}

impl<'a> DetailCache<'a> {
    fn new(db: &'a VulnDb) -> Self {
        DetailCache {
            db,
            seen: HashMap::new(),
        }
    }

    fn get(&mut self, id: &str) -> Result<Option<&VulnerabilityDetail>, DbError> {
        if !self.seen.contains_key(id) {
            let d = self.db.vulnerability(id)?;
            self.seen.insert(id.to_string(), d);
        }
        Ok(self.seen[id].as_ref())
    }
}

/// Report filters applied after matching (`--ignore-unfixed`, `--severity`).
#[derive(Debug, Clone, Default)]
pub struct Filters {
    /// Drop findings whose status is not `fixed` (no fix available).
    pub ignore_unfixed: bool,
    /// Keep only these severities; empty = all.
    pub severities: Vec<Severity>,
}

impl Filters {
    /// `true` when `v` passes the filters.
    pub fn keeps(&self, v: &DetectedVulnerability) -> bool {
        if self.ignore_unfixed && v.status != Status::Fixed {
            return false;
        }
        self.severities.is_empty() || self.severities.contains(&v.severity)
    }

    /// Applies the filters in place.
    pub fn apply(&self, vulns: &mut Vec<DetectedVulnerability>) {
        vulns.retain(|v| self.keeps(v));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn primary_urls() {
        assert_eq!(
            primary_url("CVE-2024-1234", &[]),
            "https://avd.aquasec.com/nvd/cve-2024-1234"
        );
        assert_eq!(
            primary_url("TEMP-0841856-B18BAF", &[]),
            "https://security-tracker.debian.org/tracker/TEMP-0841856-B18BAF"
        );
        assert_eq!(
            primary_url("GHSA-abcd", &[]),
            "https://github.com/advisories/GHSA-abcd"
        );
        assert_eq!(primary_url("DLA-1", &["https://example.com".into()]), "");
    }

    #[test]
    fn severity_choice_follows_trivy() {
        let mut d = VulnerabilityDetail {
            severity: "MEDIUM".into(),
            ..Default::default()
        };
        assert_eq!(
            vendor_severity(Some(&d), "debian"),
            (Severity::Medium, String::new())
        );
        d.vendor_severity.insert("nvd".into(), Severity::Critical);
        assert_eq!(
            vendor_severity(Some(&d), "debian"),
            (Severity::Critical, "nvd".into())
        );
        d.vendor_severity.insert("debian".into(), Severity::Low);
        assert_eq!(
            vendor_severity(Some(&d), "debian"),
            (Severity::Low, "debian".into())
        );
        assert_eq!(
            vendor_severity(None, "debian"),
            (Severity::Unknown, String::new())
        );
    }

    fn pkg(version: &str, src_version: &str) -> Package {
        Package::new("libfoo", version, "foo", src_version, "var/lib/dpkg/status")
    }

    fn adv(fixed: &str) -> Advisory {
        Advisory {
            vulnerability_id: "CVE-1".into(),
            fixed_version: fixed.into(),
            ..Default::default()
        }
    }

    #[test]
    fn debian_compares_source_version_and_unfixed_always_matches() {
        let p = pkg("1:2.0-1", "2.0-1");
        assert!(is_vulnerable(Scheme::Dpkg, &OsFamily::Debian, &p, &adv("2.0-2")).unwrap());
        assert!(!is_vulnerable(Scheme::Dpkg, &OsFamily::Debian, &p, &adv("2.0-1")).unwrap());
        assert!(!is_vulnerable(Scheme::Dpkg, &OsFamily::Debian, &p, &adv("2.0~rc1-1")).unwrap());
        assert!(is_vulnerable(Scheme::Dpkg, &OsFamily::Debian, &p, &adv("")).unwrap());
    }

    #[test]
    fn alpine_needs_a_fixed_version_and_zero_means_never() {
        let p = pkg("1.36.1-r15", "1.36.1-r15");
        assert!(!is_vulnerable(Scheme::Apk, &OsFamily::Alpine, &p, &adv("")).unwrap());
        assert!(!is_vulnerable(Scheme::Apk, &OsFamily::Alpine, &p, &adv("0")).unwrap());
        assert!(is_vulnerable(Scheme::Apk, &OsFamily::Alpine, &p, &adv("1.36.1-r16")).unwrap());
        assert!(!is_vulnerable(Scheme::Apk, &OsFamily::Alpine, &p, &adv("1.36.1-r2")).unwrap());
    }

    #[test]
    fn status_defaults_like_trivy() {
        let os = OsInfo {
            family: OsFamily::Debian,
            name: "12.15".into(),
        };
        let p = pkg("1", "1");
        assert_eq!(finding(&os, &p, &adv(""), None).status, Status::Affected);
        assert_eq!(finding(&os, &p, &adv("2"), None).status, Status::Fixed);
        let mut a = adv("");
        a.status = Status::WillNotFix;
        a.severity = Severity::Low;
        let ds = DataSource {
            id: "debian".into(),
            ..Default::default()
        };
        let f = finding(&os, &p, &a, Some(&ds));
        assert_eq!(
            (f.status, f.severity, f.severity_source.as_str()),
            (Status::WillNotFix, Severity::Low, "debian")
        );
    }

    #[test]
    fn filters() {
        let mk = |s, st| DetectedVulnerability {
            severity: s,
            status: st,
            ..Default::default()
        };
        let mut v = vec![
            mk(Severity::High, Status::Fixed),
            mk(Severity::Low, Status::Fixed),
            mk(Severity::High, Status::Affected),
            mk(Severity::Critical, Status::WillNotFix),
        ];
        Filters {
            ignore_unfixed: true,
            severities: vec![Severity::High, Severity::Critical],
        }
        .apply(&mut v);
        assert_eq!(v.len(), 1);
    }
}
