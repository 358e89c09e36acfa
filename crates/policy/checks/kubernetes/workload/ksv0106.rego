# METADATA
# title: "Container capabilities must only include NET_BIND_SERVICE"
# description: "Containers must drop ALL capabilities, and are only permitted to add back the NET_BIND_SERVICE capability."
# scope: package
# schemas:
# - input: schema["kubernetes"]
# related_resources:
# - https://kubernetes.io/docs/concepts/security/pod-security-standards/#restricted
# custom:
#   id: KSV0106
#   avd_id: AVD-KSV-0106
#   severity: LOW
#   recommended_action: "Set 'spec.containers[*].securityContext.capabilities.drop' to 'ALL' and only add 'NET_BIND_SERVICE' to 'spec.containers[*].securityContext.capabilities.add'."
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
package builtin.kubernetes.KSV0106

import rego.v1

deny contains res if {
	some f in data.sightline.lib.k8s.container_facts
	c := f.container
	not "ALL" in f.dropped
	res := data.sightline.lib.result.new(sprintf("%s should drop 'ALL' capabilities", [f.subject]), c)
}

deny contains res if {
	some f in data.sightline.lib.k8s.container_facts
	c := f.container
	extra := [cap | some cap in f.added; cap != "NET_BIND_SERVICE"]
	count(extra) > 0
	res := data.sightline.lib.result.new(sprintf("%s should only add 'NET_BIND_SERVICE' capability, not %s", [f.subject, concat(", ", extra)]), c)
}
