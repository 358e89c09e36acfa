# A custom check in the style of Trivy Operator's tutorial: metadata as __rego_metadata__
# and __rego_input__ rules, Rego v0 syntax, messages as plain strings.
package sightline_test.custom.recommended_labels

import future.keywords.in

__rego_metadata__ := {
	"id": "TEST001",
	"title": "Recommended labels",
	"severity": "LOW",
	"type": "Custom Check",
	"description": "Workloads carry app.kubernetes.io/name and app.kubernetes.io/version.",
	"recommended_actions": "Add the recommended labels.",
	"url": "https://kubernetes.io/docs/concepts/overview/working-with-objects/common-labels/",
}

__rego_input__ := {"selector": [{"type": "kubernetes", "subtypes": [{"kind": "Deployment"}, {"kind": "StatefulSet"}]}]}

recommended := ["app.kubernetes.io/name", "app.kubernetes.io/version"]

deny[msg] {
	some label in recommended
	not input.metadata.labels[label]
	msg := sprintf("%s '%s' should carry the label %s", [input.kind, input.metadata.name, label])
}
