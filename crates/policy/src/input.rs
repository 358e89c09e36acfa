//! Kubernetes manifests to objects: YAML (multi-document, `kind: List`) or JSON.
//!
//! Values come from serde_norway; source positions come from a second, event-level pass
//! (yaml-rust2 markers), because serde_norway has none. Every mapping of an object gets a
//! `__defsec_metadata: {startline, endline}` entry — the same convention Trivy uses, so
//! checks (built-in or custom) hand any sub-object to `result.new(msg, cause)` and the
//! result points at its lines.

use serde::Deserialize;
use serde_json::{Map, Value};
use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::{Marker, TScalarStyle};

/// The key under which source lines are attached to every mapping.
pub const META_KEY: &str = "__defsec_metadata";

/// Input size limit per file/stream (larger input is refused with a clear error).
pub const MAX_INPUT_BYTES: usize = 64 << 20;

/// One Kubernetes object from a manifest.
#[derive(Debug, Clone, PartialEq)]
pub struct K8sObject {
    /// The object, with `__defsec_metadata` on every mapping when lines are known.
    pub value: Value,
    /// `kind` ("" when missing).
    pub kind: String,
    /// `apiVersion` ("" when missing).
    pub api_version: String,
    /// `metadata.name` ("" when missing).
    pub name: String,
    /// `metadata.namespace` ("" when missing).
    pub namespace: String,
    /// First source line (1-based; 0 when unknown).
    pub start_line: usize,
    /// Last source line.
    pub end_line: usize,
}

impl K8sObject {
    /// Wraps an object that has no source text (e.g. one read from the API server).
    pub fn from_value(value: Value) -> Self {
        let s = |v: &Value, path: &[&str]| {
            path.iter()
                .try_fold(v, |v, k| v.get(k))
                .and_then(|v| v.as_str())
                .unwrap_or_default()
                .to_string()
        };
        K8sObject {
            kind: s(&value, &["kind"]),
            api_version: s(&value, &["apiVersion"]),
            name: s(&value, &["metadata", "name"]),
            namespace: s(&value, &["metadata", "namespace"]),
            start_line: 0,
            end_line: 0,
            value,
        }
    }
}

/// Why a manifest could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// The text is not valid YAML/JSON.
    #[error("invalid YAML/JSON: {0}")]
    Syntax(String),
    /// The input exceeds [`MAX_INPUT_BYTES`].
    #[error("input is {size} bytes, over the {limit}-byte limit")]
    TooLarge {
        /// Size of the input.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// The bytes are not UTF-8 text.
    #[error("not UTF-8 text")]
    NotText,
}

/// Parses every document of `bytes` (YAML stream or JSON) into objects: `kind: List` is
/// flattened into its items; empty documents and non-mapping documents are skipped.
pub fn parse_documents(bytes: &[u8]) -> Result<Vec<K8sObject>, ParseError> {
    if bytes.len() > MAX_INPUT_BYTES {
        return Err(ParseError::TooLarge {
            size: bytes.len(),
            limit: MAX_INPUT_BYTES,
        });
    }
    let text = std::str::from_utf8(bytes).map_err(|_| ParseError::NotText)?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut values = Vec::new();
    for doc in serde_norway::Deserializer::from_str(text) {
        let v = Value::deserialize(doc).map_err(|e| ParseError::Syntax(e.to_string()))?;
        values.push(v);
    }
    // Positions are best effort: a stream the event parser reads differently keeps its
    // values, without lines.
    let positions = positions(text).unwrap_or_default();
    let aligned = positions.len() == values.len();
    let mut out = Vec::new();
    for (i, mut v) in values.into_iter().enumerate() {
        let pos = if aligned { positions.get(i) } else { None };
        if !v.is_object() {
            continue;
        }
        if let Some(p) = pos {
            annotate(&mut v, p);
        }
        if v.get("kind").and_then(Value::as_str) == Some("List") && v.get("items").is_some() {
            let items = match v.get_mut("items").map(Value::take) {
                Some(Value::Array(a)) => a,
                _ => Vec::new(),
            };
            for item in items.into_iter().filter(Value::is_object) {
                out.push(object(item));
            }
        } else {
            out.push(object(v));
        }
    }
    Ok(out)
}

fn object(value: Value) -> K8sObject {
    let mut o = K8sObject::from_value(value);
    if let Some(m) = o.value.get(META_KEY) {
        let line = |k: &str| m[k].as_u64().and_then(|n| usize::try_from(n).ok());
        o.start_line = line("startline").unwrap_or(0);
        o.end_line = line("endline").unwrap_or(0);
    }
    o
}

/// Source position of one YAML node.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Pos {
    /// First line (1-based).
    pub start: usize,
    /// Last line.
    pub end: usize,
    /// Children.
    pub children: PosChildren,
}

/// Children of a [`Pos`].
#[derive(Debug, Clone, Default, PartialEq)]
pub enum PosChildren {
    /// A scalar (or an alias).
    #[default]
    None,
    /// A mapping: key -> value position.
    Map(Vec<(String, Pos)>),
    /// A sequence.
    Seq(Vec<Pos>),
}

/// Builds the position tree of every document of `text`.
pub fn positions(text: &str) -> Option<Vec<Pos>> {
    let mut b = PosBuilder {
        chars: text.chars().collect(),
        ..Default::default()
    };
    Parser::new_from_str(text).load(&mut b, true).ok()?;
    Some(b.docs)
}

#[derive(Default)]
struct PosBuilder {
    chars: Vec<char>,
    docs: Vec<Pos>,
    /// Open collections: (node, pending key for maps).
    stack: Vec<(Pos, Option<String>)>,
    in_doc: bool,
}

impl PosBuilder {
    fn finish(&mut self, node: Pos) {
        match self.stack.last_mut() {
            None => self.docs.push(node),
            Some((parent, key)) => {
                parent.end = parent.end.max(node.end);
                match &mut parent.children {
                    PosChildren::Seq(items) => items.push(node),
                    PosChildren::Map(entries) => match key.take() {
                        Some(k) => entries.push((k, node)),
                        // A key: remember it (complex keys are stringified as empty).
                        None => *key = Some(String::new()),
                    },
                    PosChildren::None => {}
                }
            }
        }
    }

    fn scalar(&mut self, value: String, style: TScalarStyle, mark: Marker) {
        let line = mark.line().max(1);
        let newlines = match style {
            TScalarStyle::Literal | TScalarStyle::Folded => {
                value.trim_end_matches('\n').matches('\n').count()
            }
            _ => 0,
        };
        if let Some((
            Pos {
                children: PosChildren::Map(_),
                ..
            },
            key @ None,
        )) = self.stack.last_mut()
        {
            *key = Some(value);
            return;
        }
        self.finish(Pos {
            start: line,
            end: line + newlines,
            children: PosChildren::None,
        });
    }

    fn close(&mut self, mark: Marker, closing: char) {
        if let Some((mut node, _)) = self.stack.pop() {
            // Flow collections end on their bracket; block collections on their last child.
            if self.chars.get(mark.index()) == Some(&closing) {
                node.end = node.end.max(mark.line());
            }
            node.end = node.end.max(node.start);
            self.finish(node);
        }
    }
}

impl MarkedEventReceiver for PosBuilder {
    fn on_event(&mut self, ev: Event, mark: Marker) {
        match ev {
            Event::DocumentStart => {
                self.in_doc = true;
                self.stack.clear();
            }
            Event::DocumentEnd => self.in_doc = false,
            Event::Scalar(v, style, ..) => self.scalar(v, style, mark),
            Event::Alias(_) => self.scalar(String::new(), TScalarStyle::Plain, mark),
            Event::MappingStart(..) => self.stack.push((
                Pos {
                    start: mark.line().max(1),
                    end: mark.line().max(1),
                    children: PosChildren::Map(Vec::new()),
                },
                None,
            )),
            Event::SequenceStart(..) => self.stack.push((
                Pos {
                    start: mark.line().max(1),
                    end: mark.line().max(1),
                    children: PosChildren::Seq(Vec::new()),
                },
                None,
            )),
            Event::MappingEnd => self.close(mark, '}'),
            Event::SequenceEnd => self.close(mark, ']'),
            _ => {}
        }
    }
}

/// Adds `__defsec_metadata` to every mapping of `v` that has a position in `pos`.
pub fn annotate(v: &mut Value, pos: &Pos) {
    match (v, &pos.children) {
        (Value::Object(map), PosChildren::Map(entries)) => {
            for (k, child) in entries {
                if let Some(cv) = map.get_mut(k) {
                    annotate(cv, child);
                }
            }
            let mut meta = Map::new();
            meta.insert("startline".into(), pos.start.into());
            meta.insert("endline".into(), pos.end.into());
            map.insert(META_KEY.into(), Value::Object(meta));
        }
        (Value::Array(items), PosChildren::Seq(ps)) => {
            for (item, p) in items.iter_mut().zip(ps) {
                annotate(item, p);
            }
        }
        _ => {}
    }
}

/// Removes every `__defsec_metadata` entry (for printing objects back).
pub fn strip_annotations(v: &mut Value) {
    match v {
        Value::Object(m) => {
            m.remove(META_KEY);
            m.values_mut().for_each(strip_annotations);
        }
        Value::Array(a) => a.iter_mut().for_each(strip_annotations),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MULTI: &str = "\
apiVersion: v1
kind: Pod
metadata:
  name: a
spec:
  containers:
  - name: one
    image: nginx
  - name: two
    image: redis
    command:
    - sleep
---
# a comment-only document is skipped
---
apiVersion: v1
kind: List
items:
- kind: Role
  metadata: {name: r}
  rules: []
- kind: ConfigMap
  metadata:
    name: c
  data:
    script: |
      line1
      line2
";

    fn lines(v: &Value) -> (u64, u64) {
        let m = &v[META_KEY];
        (
            m["startline"].as_u64().unwrap(),
            m["endline"].as_u64().unwrap(),
        )
    }

    #[test]
    fn multi_document_with_lists_and_lines() {
        let objs = parse_documents(MULTI.as_bytes()).unwrap();
        let kinds: Vec<_> = objs.iter().map(|o| o.kind.as_str()).collect();
        assert_eq!(kinds, ["Pod", "Role", "ConfigMap"]);
        let pod = &objs[0];
        assert_eq!((pod.start_line, pod.end_line), (1, 12));
        let c = &pod.value["spec"]["containers"];
        assert_eq!(lines(&c[0]), (7, 8));
        assert_eq!(lines(&c[1]), (9, 12));
        assert_eq!(objs[1].name, "r");
        assert_eq!((objs[1].start_line, objs[1].end_line), (19, 21));
        assert_eq!(lines(&objs[1].value["metadata"]), (20, 20));
        // The block scalar's two lines count.
        assert_eq!((objs[2].start_line, objs[2].end_line), (22, 28));
    }

    #[test]
    fn json_documents_have_lines() {
        let json = "{\n  \"kind\": \"Pod\",\n  \"metadata\": {\n    \"name\": \"p\"\n  }\n}\n";
        let objs = parse_documents(json.as_bytes()).unwrap();
        assert_eq!(objs.len(), 1);
        assert_eq!((objs[0].start_line, objs[0].end_line), (1, 6));
        assert_eq!(lines(&objs[0].value["metadata"]), (3, 5));
    }

    #[test]
    fn errors_are_clear() {
        let e = parse_documents(b"kind: Pod\nmetadata: [unclosed\n").unwrap_err();
        assert!(
            matches!(e, ParseError::Syntax(ref m) if m.contains("line")),
            "{e}"
        );
        assert_eq!(
            parse_documents(&[0xff, 0xfe, 0x00]).unwrap_err(),
            ParseError::NotText
        );
        let big = vec![b' '; MAX_INPUT_BYTES + 1];
        assert!(matches!(
            parse_documents(&big).unwrap_err(),
            ParseError::TooLarge { .. }
        ));
        // Scalars and empty streams are not objects.
        assert!(parse_documents(b"just a string\n").unwrap().is_empty());
        assert!(parse_documents(b"").unwrap().is_empty());
    }

    #[test]
    fn strip_removes_annotations() {
        let mut objs = parse_documents(MULTI.as_bytes()).unwrap();
        strip_annotations(&mut objs[0].value);
        assert!(!serde_json::to_string(&objs[0].value)
            .unwrap()
            .contains(META_KEY));
    }
}
