# METADATA
# title: "Do not allow getting shell on pods"
# description: "Check whether role permits getting shell on pods."
# scope: package
# schemas:
# - input: schema["kubernetes"]
# related_resources:
# - https://kubernetes.io/docs/concepts/security/rbac-good-practices/
# custom:
#   id: KSV053
#   avd_id: AVD-KSV-0053
#   severity: HIGH
#   recommended_action: "Create a role which does not permit getting shell on pods."
#   category: "Kubernetes Security Check"
#   input:
#     selector:
#     - type: kubernetes
#       subtypes:
#         - kind: role
#         - kind: clusterrole
package builtin.kubernetes.KSV053

import rego.v1

can_get_pods if {
	some r in data.sightline.lib.rbac.rules
	data.sightline.lib.rbac.grants(r, ["get", "*"], "", "pods")
}

deny contains res if {
	data.sightline.lib.rbac.is_role
	can_get_pods
	some r in data.sightline.lib.rbac.rules
	data.sightline.lib.rbac.grants(r, ["create", "*"], "", "pods/exec")
	res := data.sightline.lib.result.new(sprintf("%s should not have access to resources 'pods/exec' (create) and 'pods' (get): it allows getting shells on pods", [data.sightline.lib.rbac.subject]), r)
}
