# METADATA
# title: "Do not allow management of RBAC resources"
# description: "An effective level of access equivalent to cluster-admin should not be provided."
# scope: package
# schemas:
# - input: schema["kubernetes"]
# related_resources:
# - https://kubernetes.io/docs/concepts/security/rbac-good-practices/
# custom:
#   id: KSV050
#   avd_id: AVD-KSV-0050
#   severity: CRITICAL
#   recommended_action: "Remove write permission verbs for resource 'roles' and 'rolebindings'."
#   category: "Kubernetes Security Check"
#   input:
#     selector:
#     - type: kubernetes
#       subtypes:
#         - kind: role
#         - kind: clusterrole
package builtin.kubernetes.KSV050

import rego.v1

deny contains res if {
	data.sightline.lib.rbac.is_role
	some r in data.sightline.lib.rbac.rules
	some resource in ["roles", "rolebindings", "clusterroles", "clusterrolebindings"]
	data.sightline.lib.rbac.grants(r, ["create", "update", "patch", "delete", "deletecollection", "escalate", "bind", "*"], "rbac.authorization.k8s.io", resource)
	res := data.sightline.lib.result.new(sprintf("%s should not be allowed to manage RBAC resource '%s'", [data.sightline.lib.rbac.subject, resource]), r)
}
