//! The size guard (see the [module docs](super)): trims a report's entries, lowest severity
//! and last first, until its compact JSON fits the budget, and marks it trimmed.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::Serialize;
use sightline_api::crd::{ExposedSecret, ExposedSecretReport, Vulnerability, VulnerabilityReport};
use sightline_api::vuln::Severity;

use super::{ReportError, TRIMMED_ANNOTATION};

/// A report kind the size guard can trim.
pub(super) trait Trimmable: Serialize {
    /// One list entry.
    type Entry: Serialize;
    /// The kind, for errors.
    const KIND: &'static str;
    /// The list that is trimmed.
    fn entries(&mut self) -> &mut Vec<Self::Entry>;
    /// An entry's severity.
    fn severity(entry: &Self::Entry) -> Severity;
    /// The object's metadata.
    fn meta(&mut self) -> &mut ObjectMeta;
}

impl Trimmable for VulnerabilityReport {
    type Entry = Vulnerability;
    const KIND: &'static str = "VulnerabilityReport";
    fn entries(&mut self) -> &mut Vec<Vulnerability> {
        &mut self.spec.report.vulnerabilities
    }
    fn severity(entry: &Vulnerability) -> Severity {
        entry.severity
    }
    fn meta(&mut self) -> &mut ObjectMeta {
        &mut self.metadata
    }
}

impl Trimmable for ExposedSecretReport {
    type Entry = ExposedSecret;
    const KIND: &'static str = "ExposedSecretReport";
    fn entries(&mut self) -> &mut Vec<ExposedSecret> {
        &mut self.spec.report.secrets
    }
    fn severity(entry: &ExposedSecret) -> Severity {
        entry.severity
    }
    fn meta(&mut self) -> &mut ObjectMeta {
        &mut self.metadata
    }
}

/// Counts the bytes written to it.
struct ByteCount(usize);

impl std::io::Write for ByteCount {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0 += buf.len();
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The length of `value`'s compact JSON, without keeping the JSON.
pub(super) fn json_len<T: Serialize + ?Sized>(value: &T) -> Result<usize, serde_json::Error> {
    let mut count = ByteCount(0);
    serde_json::to_writer(&mut count, value)?;
    Ok(count.0)
}

/// The size guard (see the module docs): trims `report`'s entries until its JSON fits
/// `budget`, marking it; returns `(kept, total)` when it trimmed.
pub(super) fn fit_to_budget<R: Trimmable>(
    report: &mut R,
    budget: usize,
) -> Result<Option<(usize, usize)>, ReportError> {
    let name = report.meta().name.clone().unwrap_or_default();
    let ser_err = |source| ReportError::Serialize {
        kind: R::KIND,
        name: name.clone(),
        source,
    };
    if json_len(report).map_err(ser_err)? <= budget {
        return Ok(None);
    }
    let entries = std::mem::take(report.entries());
    let total = entries.len();
    // Measure the object with an empty list and the longest marker it can get ("<total>/<total>"),
    // so the estimate below is an upper bound.
    set_trimmed(report.meta(), total, total);
    let base = json_len(report).map_err(ser_err)?;
    if base > budget {
        *report.entries() = entries;
        return Err(ReportError::TooLarge {
            kind: R::KIND,
            name,
            bytes: base,
            budget,
        });
    }
    // Each entry costs its JSON plus one separating comma (one comma too many: an upper bound).
    let cost: Vec<usize> = entries
        .iter()
        .map(|e| json_len(e).map(|n| n + 1))
        .collect::<Result<_, _>>()
        .map_err(ser_err)?;
    let mut size = base + cost.iter().sum::<usize>();
    // Drop order: lowest severity first; within a severity, last in the report first.
    let mut order: Vec<usize> = (0..total).collect();
    order.sort_by_key(|&i| (R::severity(&entries[i]), std::cmp::Reverse(i)));
    let mut keep = vec![true; total];
    let mut next = 0;
    while size > budget && next < total {
        let i = order[next];
        keep[i] = false;
        size -= cost[i];
        next += 1;
    }
    let mut kept_entries: Vec<R::Entry> = entries
        .into_iter()
        .zip(&keep)
        .filter_map(|(e, k)| k.then_some(e))
        .collect();
    // The estimate is an upper bound, so this normally passes at once; should it ever not,
    // keep dropping in the same order, one entry at a time, re-measuring.
    loop {
        let kept = kept_entries.len();
        set_trimmed(report.meta(), kept, total);
        *report.entries() = kept_entries;
        let size = json_len(report).map_err(ser_err)?;
        if size <= budget {
            return Ok(Some((kept, total)));
        }
        kept_entries = std::mem::take(report.entries());
        if kept_entries.is_empty() {
            return Err(ReportError::TooLarge {
                kind: R::KIND,
                name,
                bytes: size,
                budget,
            });
        }
        let (pos, _) = kept_entries
            .iter()
            .enumerate()
            .min_by_key(|(pos, e)| (R::severity(e), std::cmp::Reverse(*pos)))
            .expect("the list is not empty");
        kept_entries.remove(pos);
    }
}

fn set_trimmed(meta: &mut ObjectMeta, kept: usize, total: usize) {
    meta.annotations
        .get_or_insert_with(BTreeMap::new)
        .insert(TRIMMED_ANNOTATION.to_string(), format!("{kept}/{total}"));
}
