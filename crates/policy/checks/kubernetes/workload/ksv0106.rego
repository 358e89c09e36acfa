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

import data.sightline.lib.k8s
import data.sightline.lib.result

deny contains res if {
	some c in k8s.containers
	not "ALL" in k8s.dropped_capabilities(c)
	res := result.new(sprintf("%s should drop 'ALL' capabilities", [k8s.container_subject(c)]), c)
}

deny contains res if {
	some c in k8s.containers
	extra := [cap | some cap in k8s.added_capabilities(c); cap != "NET_BIND_SERVICE"]
	count(extra) > 0
	res := result.new(sprintf("%s should only add 'NET_BIND_SERVICE' capability, not %s", [k8s.container_subject(c), concat(", ", extra)]), c)
}
