//! Trivy Operator's report metrics, `trivy_image_vulnerabilities` and
//! `trivy_image_exposedsecrets`: one series per severity of each report the operator writes,
//! kept in-process (see the [module docs](super)).

use std::collections::HashMap;
use std::sync::Mutex;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use sightline_api::crd::{
    Artifact, ExposedSecretReport, Registry as ImageRegistry, VulnerabilityReport,
};
use sightline_api::naming::{LABEL_CONTAINER_NAME, LABEL_RESOURCE_KIND, LABEL_RESOURCE_NAME};

use super::Metrics;
use crate::sync::MutexExt;

/// The labels of `trivy_image_vulnerabilities` and `trivy_image_exposedsecrets`, in Trivy
/// Operator's order.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ImageLabels {
    namespace: String,
    name: String,
    resource_kind: String,
    resource_name: String,
    container_name: String,
    image_registry: String,
    image_repository: String,
    image_tag: String,
    image_digest: String,
    severity: &'static str,
}

/// Which report family a series index entry belongs to.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq)]
enum ReportFamily {
    Vulnerabilities,
    ExposedSecrets,
}

/// Key of the series index: (family, namespace, report name).
type ReportKey = (ReportFamily, String, String);

/// The report families and the index of the series each report exported.
#[derive(Debug)]
pub(super) struct ReportSeries {
    image_vulnerabilities: Family<ImageLabels, Gauge>,
    image_exposed_secrets: Family<ImageLabels, Gauge>,
    /// The label sets exported for each report, so a changed or deleted report's old series
    /// are removed (held while the families are changed, so the two stay consistent).
    series: Mutex<HashMap<ReportKey, Vec<ImageLabels>>>,
}

impl ReportSeries {
    /// Registers both report families in `registry`.
    pub(super) fn register(registry: &mut Registry) -> Self {
        let s = ReportSeries {
            image_vulnerabilities: Family::default(),
            image_exposed_secrets: Family::default(),
            series: Mutex::new(HashMap::new()),
        };
        registry.register(
            "trivy_image_vulnerabilities",
            "Number of container image vulnerabilities",
            s.image_vulnerabilities.clone(),
        );
        registry.register(
            "trivy_image_exposedsecrets",
            "Number of image exposed secrets",
            s.image_exposed_secrets.clone(),
        );
        s
    }

    fn family(&self, which: ReportFamily) -> &Family<ImageLabels, Gauge> {
        match which {
            ReportFamily::Vulnerabilities => &self.image_vulnerabilities,
            ReportFamily::ExposedSecrets => &self.image_exposed_secrets,
        }
    }

    /// Exports one series per `(severity, value)` of the report with metadata `meta` about
    /// the image `registry`/`artifact`, replacing its earlier ones.
    fn set(
        &self,
        which: ReportFamily,
        (meta, registry, artifact): (&ObjectMeta, &ImageRegistry, &Artifact),
        values: &[(&'static str, u32)],
    ) {
        let base = ImageLabels::of(meta, registry, artifact);
        let family = self.family(which);
        let key = (which, base.namespace.clone(), base.name.clone());
        let mut series = self.series.locked();
        let new: Vec<ImageLabels> = values
            .iter()
            .map(|&(severity, _)| ImageLabels {
                severity,
                ..base.clone()
            })
            .collect();
        if let Some(old) = series.get(&key) {
            for labels in old.iter().filter(|l| !new.contains(l)) {
                family.remove(labels);
            }
        }
        for (labels, (_, value)) in new.iter().zip(values) {
            family.get_or_create(labels).set(i64::from(*value));
        }
        series.insert(key, new);
    }

    /// Removes the series of one report.
    fn remove(&self, which: ReportFamily, namespace: &str, name: &str) {
        let family = self.family(which);
        let key = (which, namespace.to_string(), name.to_string());
        if let Some(old) = self.series.locked().remove(&key) {
            for labels in &old {
                family.remove(labels);
            }
        }
    }
}

impl Metrics {
    /// Exports `trivy_image_vulnerabilities` for report `r` (one series per severity:
    /// Critical, High, Medium, Low, Unknown, valued from `.report.summary`), replacing the
    /// series of an earlier version of the same report (same namespace and name).
    pub fn set_vulnerability_report(&self, r: &VulnerabilityReport) {
        let (report, s) = (&r.spec.report, &r.spec.report.summary);
        let values = by_severity(
            [s.critical_count, s.high_count, s.medium_count, s.low_count],
            Some(s.unknown_count),
        );
        let image = (&r.metadata, &report.registry, &report.artifact);
        self.reports
            .set(ReportFamily::Vulnerabilities, image, &values);
    }

    /// Exports `trivy_image_exposedsecrets` for report `r` (one series per severity:
    /// Critical, High, Medium, Low, as Trivy Operator has no Unknown count for secrets),
    /// replacing the series of an earlier version of the same report.
    pub fn set_exposed_secret_report(&self, r: &ExposedSecretReport) {
        let (report, s) = (&r.spec.report, &r.spec.report.summary);
        let values = by_severity(
            [s.critical_count, s.high_count, s.medium_count, s.low_count],
            None,
        );
        let image = (&r.metadata, &report.registry, &report.artifact);
        self.reports
            .set(ReportFamily::ExposedSecrets, image, &values);
    }

    /// `true` when the series of both the VulnerabilityReport and the ExposedSecretReport
    /// named `name` in `namespace` are exported (after a restart they are not, until the
    /// reports are matched again).
    pub fn has_report(&self, namespace: &str, name: &str) -> bool {
        let series = self.reports.series.locked();
        [ReportFamily::Vulnerabilities, ReportFamily::ExposedSecrets]
            .into_iter()
            .all(|f| series.contains_key(&(f, namespace.to_string(), name.to_string())))
    }

    /// The number of reports with exported series (both kinds counted).
    pub fn reports_tracked(&self) -> usize {
        self.reports.series.locked().len()
    }

    /// Removes the series of the VulnerabilityReport and the ExposedSecretReport named `name`
    /// in `namespace` (a workload container's reports share their name).
    pub fn remove_report(&self, namespace: &str, name: &str) {
        self.remove_vulnerability_report(namespace, name);
        self.remove_exposed_secret_report(namespace, name);
    }

    /// Removes the `trivy_image_vulnerabilities` series of one VulnerabilityReport.
    pub fn remove_vulnerability_report(&self, namespace: &str, name: &str) {
        self.reports
            .remove(ReportFamily::Vulnerabilities, namespace, name);
    }

    /// Removes the `trivy_image_exposedsecrets` series of one ExposedSecretReport.
    pub fn remove_exposed_secret_report(&self, namespace: &str, name: &str) {
        self.reports
            .remove(ReportFamily::ExposedSecrets, namespace, name);
    }
}

/// The `(severity, value)` series of a summary's Critical, High, Medium and Low counts, and
/// Unknown where the report kind has it.
fn by_severity(counts: [u32; 4], unknown: Option<u32>) -> Vec<(&'static str, u32)> {
    ["Critical", "High", "Medium", "Low"]
        .into_iter()
        .zip(counts)
        .chain(unknown.map(|u| ("Unknown", u)))
        .collect()
}

impl ImageLabels {
    /// The labels of a report's series, severity left empty: `namespace` and `name` from the
    /// report's metadata, `resource_kind`, `resource_name` and `container_name` from its labels
    /// (as Trivy Operator reads them; a workload name too long for a label is taken from the
    /// `trivy-operator.resource.name` annotation instead of being left empty), the image from
    /// `.report.registry` and `.report.artifact`.
    fn of(meta: &ObjectMeta, registry: &ImageRegistry, artifact: &Artifact) -> Self {
        let label = |k: &str| meta.labels.as_ref().and_then(|l| l.get(k));
        let resource_name = label(LABEL_RESOURCE_NAME)
            .or_else(|| {
                meta.annotations
                    .as_ref()
                    .and_then(|a| a.get(LABEL_RESOURCE_NAME))
            })
            .cloned()
            .unwrap_or_default();
        let label = |k: &str| label(k).cloned().unwrap_or_default();
        ImageLabels {
            namespace: meta.namespace.clone().unwrap_or_default(),
            name: meta.name.clone().unwrap_or_default(),
            resource_kind: label(LABEL_RESOURCE_KIND),
            resource_name,
            container_name: label(LABEL_CONTAINER_NAME),
            image_registry: registry.server.clone(),
            image_repository: artifact.repository.clone(),
            image_tag: artifact.tag.clone(),
            image_digest: artifact.digest.clone(),
            severity: "",
        }
    }
}
