# METADATA
# title: "CPU requests not specified"
# description: "When containers have resource requests specified, the scheduler can make better decisions about which nodes to place pods on, and how to deal with resource contention."
# scope: package
# schemas:
# - input: schema["kubernetes"]
# related_resources:
# - https://cloud.google.com/blog/products/containers-kubernetes/kubernetes-best-practices-resource-requests-and-limits
# custom:
#   id: KSV015
#   avd_id: AVD-KSV-0015
#   severity: LOW
#   recommended_action: "Set 'containers[].resources.requests.cpu'."
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
package builtin.kubernetes.KSV015

import rego.v1

deny contains res if {
	some f in data.sightline.lib.k8s.container_facts
	c := f.container
	not _set(object.get(c, ["resources", "requests", "cpu"], null))
	res := data.sightline.lib.result.new(sprintf("%s should set 'resources.requests.cpu'", [f.subject]), c)
}

_set(v) if is_string(v)

_set(v) if is_number(v)
