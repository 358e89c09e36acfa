# METADATA
# title: "Do not allow role binding creation and association with privileged role"
# description: "Check whether role permits creating role bindings and associating to privileged role."
# scope: package
# schemas:
# - input: schema["kubernetes"]
# related_resources:
# - https://kubernetes.io/docs/concepts/security/rbac-good-practices/
# custom:
#   id: KSV051
#   avd_id: AVD-KSV-0051
#   severity: HIGH
#   recommended_action: "Create a role which does not permit creation of role bindings and associating with privileged cluster role."
#   category: "Kubernetes Security Check"
#   input:
#     selector:
#     - type: kubernetes
#       subtypes:
#         - kind: role
#         - kind: clusterrole
package builtin.kubernetes.KSV051

import rego.v1

group := "rbac.authorization.k8s.io"

can_create if {
	some r in data.sightline.lib.rbac.rules
	data.sightline.lib.rbac.grants(r, ["create"], group, "rolebindings")
}

deny contains res if {
	data.sightline.lib.rbac.is_role
	can_create
	some r in data.sightline.lib.rbac.rules
	some resource in ["roles", "clusterroles"]
	data.sightline.lib.rbac.grants(r, ["bind"], group, resource)
	res := data.sightline.lib.result.new(sprintf("%s should not allow creating role bindings and binding them to privileged %s", [data.sightline.lib.rbac.subject, resource]), r)
}
