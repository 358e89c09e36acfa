# METADATA
# title: "Memory not limited"
# description: "Enforcing memory limits prevents DoS via resource exhaustion."
# scope: package
# schemas:
# - input: schema["kubernetes"]
# related_resources:
# - https://kubesec.io/basics/containers-resources-limits-memory/
# custom:
#   id: KSV018
#   avd_id: AVD-KSV-0018
#   severity: LOW
#   recommended_action: "Set a limit value under 'containers[].resources.limits.memory'."
#   category: "Kubernetes Security Check"
#   input:
#     selector:
#     - type: kubernetes
#       subtypes:
#         - kind: pod
#         - kind: replicaset
#         - kind: replicationcontroller
#         - kind: deployment
#         - kind: statefulset
#         - kind: daemonset
#         - kind: job
#         - kind: cronjob
package builtin.kubernetes.KSV018

import rego.v1

deny contains res if {
	some f in data.sightline.lib.k8s.container_facts
	c := f.container
	not _set(object.get(c, ["resources", "limits", "memory"], null))
	res := data.sightline.lib.result.new(sprintf("%s should set 'resources.limits.memory'", [f.subject]), c)
}

_set(v) if is_string(v)

_set(v) if is_number(v)
