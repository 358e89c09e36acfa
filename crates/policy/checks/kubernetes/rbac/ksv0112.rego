# METADATA
# title: "Manage all resources at the namespace"
# description: "Full control of the resources within a namespace. In some cluster configurations, this is excessive. In others, this is normal (a gitops deployment operator like flux)."
# scope: package
# schemas:
# - input: schema["kubernetes"]
# related_resources:
# - https://kubernetes.io/docs/concepts/security/rbac-good-practices/
# custom:
#   id: KSV0112
#   avd_id: AVD-KSV-0112
#   severity: CRITICAL
#   recommended_action: "Remove '*' from 'rules.resources'. Provide specific list of resources to be managed by role in namespace."
#   category: "Kubernetes Security Check"
#   input:
#     selector:
#     - type: kubernetes
#       subtypes:
#         - kind: role
package builtin.kubernetes.KSV0112

import rego.v1

deny contains res if {
	data.sightline.lib.rbac.is_namespaced_role
	some r in data.sightline.lib.rbac.rules
	"*" in data.sightline.lib.rbac.field(r, "resources")
	some v in ["create", "update", "delete", "deletecollection", "impersonate", "*", "list", "get"]
	v in data.sightline.lib.rbac.field(r, "verbs")
	res := data.sightline.lib.result.new(sprintf("%s shouldn't manage all resources at the namespace '%s'", [data.sightline.lib.rbac.subject, object.get(input, ["metadata", "namespace"], "")]), r)
}
