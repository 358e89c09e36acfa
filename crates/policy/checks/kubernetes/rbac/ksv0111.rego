# METADATA
# title: "User with admin access"
# description: "Either cluster-admin or those granted powerful permissions."
# scope: package
# schemas:
# - input: schema["kubernetes"]
# related_resources:
# - https://kubernetes.io/docs/concepts/security/rbac-good-practices/
# custom:
#   id: KSV0111
#   avd_id: AVD-KSV-0111
#   severity: MEDIUM
#   recommended_action: "Remove binding for clusterrole 'cluster-admin', 'admin' or 'edit'."
#   category: "Kubernetes Security Check"
#   input:
#     selector:
#     - type: kubernetes
#       subtypes:
#         - kind: rolebinding
#         - kind: clusterrolebinding
package builtin.kubernetes.KSV0111

import rego.v1

admin_roles := {"cluster-admin", "admin", "edit"}

deny contains res if {
	input.kind in data.sightline.lib.rbac.binding_kinds
	input.roleRef.kind == "ClusterRole"
	input.roleRef.name in admin_roles
	res := data.sightline.lib.result.new(sprintf("%s should not bind to the '%s' cluster role", [data.sightline.lib.rbac.subject, input.roleRef.name]), input.roleRef)
}
