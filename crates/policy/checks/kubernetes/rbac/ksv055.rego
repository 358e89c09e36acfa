# METADATA
# title: "Do not allow users in a rolebinding to add other users to their rolebindings"
# description: "Check whether role permits allowing users in a rolebinding to add other users to their rolebindings."
# scope: package
# schemas:
# - input: schema["kubernetes"]
# related_resources:
# - https://kubernetes.io/docs/concepts/security/rbac-good-practices/
# custom:
#   id: KSV055
#   avd_id: AVD-KSV-0055
#   severity: LOW
#   recommended_action: "Create a role which does not permit allowing users in a rolebinding to add other users to their rolebindings if not needed."
#   category: "Kubernetes Security Check"
#   input:
#     selector:
#     - type: kubernetes
#       subtypes:
#         - kind: role
#         - kind: clusterrole
package builtin.kubernetes.KSV055

import rego.v1

group := "rbac.authorization.k8s.io"

can_get if {
	some r in data.sightline.lib.rbac.rules
	data.sightline.lib.rbac.grants(r, ["get", "*"], group, "rolebindings")
}

deny contains res if {
	data.sightline.lib.rbac.is_role
	can_get
	some r in data.sightline.lib.rbac.rules
	data.sightline.lib.rbac.grants(r, ["patch", "*"], group, "rolebindings")
	res := data.sightline.lib.result.new(sprintf("%s should not have access to resource 'rolebindings' for verbs get and patch", [data.sightline.lib.rbac.subject]), r)
}
