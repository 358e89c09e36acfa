# METADATA
# title: "Containers must not set runAsUser to 0"
# description: "Containers should be forbidden from running with a root UID."
# scope: package
# schemas:
# - input: schema["kubernetes"]
# related_resources:
# - https://kubernetes.io/docs/concepts/security/pod-security-standards/#restricted
# custom:
#   id: KSV0105
#   avd_id: AVD-KSV-0105
#   severity: LOW
#   recommended_action: "Set 'securityContext.runAsUser' to a non-zero integer or leave undefined."
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
package builtin.kubernetes.KSV0105

import rego.v1

deny contains res if {
	some f in data.sightline.lib.k8s.container_facts
	c := f.container
	f.effective.runAsUser == 0
	res := data.sightline.lib.result.new(sprintf("%s should set 'securityContext.runAsUser' to a non-zero integer", [f.subject]), c)
}
