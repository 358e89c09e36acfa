# METADATA
# title: "Do not allow management of networking resources"
# description: "The ability to control which pods get service traffic directed to them allows for interception attacks. Controlling network policy allows for bypassing lateral movement restrictions."
# scope: package
# schemas:
# - input: schema["kubernetes"]
# related_resources:
# - https://kubernetes.io/docs/concepts/security/rbac-good-practices/
# custom:
#   id: KSV056
#   avd_id: AVD-KSV-0056
#   severity: HIGH
#   recommended_action: "Networking resources are only allowed to verbs 'list', 'watch', 'get'."
#   category: "Kubernetes Security Check"
#   input:
#     selector:
#     - type: kubernetes
#       subtypes:
#         - kind: role
#         - kind: clusterrole
package builtin.kubernetes.KSV056

import rego.v1

resources := [
	["", "services"], ["", "endpoints"], ["discovery.k8s.io", "endpointslices"],
	["networking.k8s.io", "networkpolicies"], ["networking.k8s.io", "ingresses"],
	["extensions", "networkpolicies"], ["extensions", "ingresses"],
]

deny contains res if {
	data.sightline.lib.rbac.is_role
	some r in data.sightline.lib.rbac.rules
	some x in resources
	data.sightline.lib.rbac.grants(r, data.sightline.lib.rbac.write_verbs, x[0], x[1])
	res := data.sightline.lib.result.new(sprintf("%s should not have access to manage networking resource '%s'", [data.sightline.lib.rbac.subject, x[1]]), r)
}
