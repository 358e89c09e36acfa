# METADATA
# title: "Delete pod logs"
# description: "Used to cover attacker's tracks, but most clusters ship logs quickly off-cluster."
# scope: package
# schemas:
# - input: schema["kubernetes"]
# related_resources:
# - https://kubernetes.io/docs/concepts/security/rbac-good-practices/
# custom:
#   id: KSV042
#   avd_id: AVD-KSV-0042
#   severity: MEDIUM
#   recommended_action: "Remove verbs 'delete' and 'deletecollection' for resource 'pods/log' for Role and ClusterRole."
#   category: "Kubernetes Security Check"
#   input:
#     selector:
#     - type: kubernetes
#       subtypes:
#         - kind: role
#         - kind: clusterrole
package builtin.kubernetes.KSV042

import rego.v1

deny contains res if {
	data.sightline.lib.rbac.is_role
	some r in data.sightline.lib.rbac.rules_granting(["delete", "deletecollection", "*"], "", "pods/log")
	res := data.sightline.lib.result.new(sprintf("%s should not have permission to delete pod logs", [data.sightline.lib.rbac.subject]), r)
}
