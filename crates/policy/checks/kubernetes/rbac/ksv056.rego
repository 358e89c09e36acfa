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

import data.sightline.lib.k8s
import data.sightline.lib.rbac
import data.sightline.lib.result

resources := [
	["", "services"], ["", "endpoints"], ["discovery.k8s.io", "endpointslices"],
	["networking.k8s.io", "networkpolicies"], ["networking.k8s.io", "ingresses"],
	["extensions", "networkpolicies"], ["extensions", "ingresses"],
]

deny contains res if {
	rbac.is_role
	some r in rbac.rules
	some x in resources
	rbac.grants(r, rbac.write_verbs, x[0], x[1])
	res := result.new(sprintf("%s should not have access to manage networking resource '%s'", [rbac.subject, x[1]]), r)
}
