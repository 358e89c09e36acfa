# METADATA
# title: "Access to host network"
# description: "Sharing the host's network namespace permits processes in the pod to communicate with processes bound to the host's loopback adapter."
# scope: package
# schemas:
# - input: schema["kubernetes"]
# related_resources:
# - https://kubernetes.io/docs/concepts/security/pod-security-standards/#baseline
# custom:
#   id: KSV009
#   avd_id: AVD-KSV-0009
#   severity: HIGH
#   recommended_action: "Do not set 'spec.template.spec.hostNetwork' to true."
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
package builtin.kubernetes.KSV009

import rego.v1

deny contains res if {
	data.sightline.lib.k8s.pod_spec.hostNetwork == true
	res := data.sightline.lib.result.new(sprintf("%s should not set 'spec.template.spec.hostNetwork' to true", [data.sightline.lib.k8s.subject]), data.sightline.lib.k8s.pod_spec)
}
