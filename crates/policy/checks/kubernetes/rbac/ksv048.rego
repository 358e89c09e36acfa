# METADATA
# title: "Do not allow update/create of a malicious pod"
# description: "Check whether role permits update/create of a malicious pod."
# scope: package
# schemas:
# - input: schema["kubernetes"]
# related_resources:
# - https://kubernetes.io/docs/concepts/security/rbac-good-practices/
# custom:
#   id: KSV048
#   avd_id: AVD-KSV-0048
#   severity: HIGH
#   recommended_action: "Create a role which does not permit update/create of a malicious pod."
#   category: "Kubernetes Security Check"
#   input:
#     selector:
#     - type: kubernetes
#       subtypes:
#         - kind: role
#         - kind: clusterrole
package builtin.kubernetes.KSV048

import rego.v1

workloads := [
	["", "pods"], ["", "replicationcontrollers"], ["apps", "deployments"], ["apps", "daemonsets"],
	["apps", "statefulsets"], ["apps", "replicasets"], ["batch", "jobs"], ["batch", "cronjobs"],
	["extensions", "deployments"], ["extensions", "daemonsets"], ["extensions", "replicasets"],
]

deny contains res if {
	data.sightline.lib.rbac.is_role
	some r in data.sightline.lib.rbac.rules
	some w in workloads
	data.sightline.lib.rbac.grants(r, ["create", "update", "*"], w[0], w[1])
	res := data.sightline.lib.result.new(sprintf("%s should not have access to resource '%s' for verbs create, update or '*'", [data.sightline.lib.rbac.subject, w[1]]), r)
}
