# METADATA
# title: "Memory requests not specified"
# description: "When containers have memory requests specified, the scheduler can make better decisions about which nodes to place pods on, and how to deal with resource contention."
# scope: package
# schemas:
# - input: schema["kubernetes"]
# related_resources:
# - https://kubesec.io/basics/containers-resources-limits-memory/
# custom:
#   id: KSV016
#   avd_id: AVD-KSV-0016
#   severity: LOW
#   recommended_action: "Set 'containers[].resources.requests.memory'."
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
package builtin.kubernetes.KSV016

import rego.v1

deny contains res if {
	some f in data.sightline.lib.k8s.container_facts
	c := f.container
	not _set(object.get(c, ["resources", "requests", "memory"], null))
	res := data.sightline.lib.result.new(sprintf("%s should set 'resources.requests.memory'", [f.subject]), c)
}

_set(v) if is_string(v)

_set(v) if is_number(v)
