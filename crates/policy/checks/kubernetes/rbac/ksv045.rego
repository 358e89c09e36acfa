# METADATA
# title: "No wildcard verb roles"
# description: "Check whether role permits wildcard verb on specific resources."
# scope: package
# schemas:
# - input: schema["kubernetes"]
# related_resources:
# - https://kubernetes.io/docs/concepts/security/rbac-good-practices/
# custom:
#   id: KSV045
#   avd_id: AVD-KSV-0045
#   severity: CRITICAL
#   recommended_action: "Create a role which does not permit wildcard verb on specific resources."
#   category: "Kubernetes Security Check"
#   input:
#     selector:
#     - type: kubernetes
#       subtypes:
#         - kind: role
#         - kind: clusterrole
package builtin.kubernetes.KSV045

import rego.v1

deny contains res if {
	data.sightline.lib.rbac.is_role
	some r in data.sightline.lib.rbac.rules
	"*" in data.sightline.lib.rbac.field(r, "verbs")
	count(data.sightline.lib.rbac.field(r, "resources")) > 0
	res := data.sightline.lib.result.new(sprintf("%s shouldn't grant all verbs ('*') on %s", [data.sightline.lib.rbac.subject, concat(", ", [x | some x in data.sightline.lib.rbac.field(r, "resources"); is_string(x)])]), r)
}
