# METADATA
# title: "No wildcard verb and resource roles"
# description: "Check whether role permits wildcard verb on wildcard resource."
# scope: package
# schemas:
# - input: schema["kubernetes"]
# related_resources:
# - https://kubernetes.io/docs/concepts/security/rbac-good-practices/
# custom:
#   id: KSV044
#   avd_id: AVD-KSV-0044
#   severity: CRITICAL
#   recommended_action: "Create a role which does not permit wildcard verb on wildcard resource."
#   category: "Kubernetes Security Check"
#   input:
#     selector:
#     - type: kubernetes
#       subtypes:
#         - kind: role
#         - kind: clusterrole
package builtin.kubernetes.KSV044

import rego.v1

deny contains res if {
	data.sightline.lib.rbac.is_role
	some r in data.sightline.lib.rbac.rules
	"*" in data.sightline.lib.rbac.field(r, "apiGroups")
	"*" in data.sightline.lib.rbac.field(r, "resources")
	"*" in data.sightline.lib.rbac.field(r, "verbs")
	res := data.sightline.lib.result.new(sprintf("%s shouldn't grant all verbs ('*') on all resources ('*') of all API groups", [data.sightline.lib.rbac.subject]), r)
}
