# METADATA
# title: "Do not allow role to create ClusterRoleBindings and association with privileged role"
# description: "Check whether role permits creating role ClusterRoleBindings and association with privileged cluster role."
# scope: package
# schemas:
# - input: schema["kubernetes"]
# related_resources:
# - https://kubernetes.io/docs/concepts/security/rbac-good-practices/
# custom:
#   id: KSV052
#   avd_id: AVD-KSV-0052
#   severity: CRITICAL
#   recommended_action: "Create a role which does not permit creation of ClusterRoleBindings and associating with privileged cluster role."
#   category: "Kubernetes Security Check"
#   input:
#     selector:
#     - type: kubernetes
#       subtypes:
#         - kind: role
#         - kind: clusterrole
package builtin.kubernetes.KSV052

import rego.v1

group := "rbac.authorization.k8s.io"

can_create if {
	some r in data.sightline.lib.rbac.rules
	data.sightline.lib.rbac.grants(r, ["create"], group, "clusterrolebindings")
}

deny contains res if {
	data.sightline.lib.rbac.is_role
	can_create
	some r in data.sightline.lib.rbac.rules
	data.sightline.lib.rbac.grants(r, ["bind"], group, "clusterroles")
	res := data.sightline.lib.result.new(sprintf("%s should not allow creating ClusterRoleBindings and binding them to privileged cluster roles", [data.sightline.lib.rbac.subject]), r)
}
