# METADATA
# title: "Access to host IPC namespace"
# description: "Sharing the host's IPC namespace allows container processes to communicate with processes on the host."
# scope: package
# schemas:
# - input: schema["kubernetes"]
# related_resources:
# - https://kubernetes.io/docs/concepts/security/pod-security-standards/#baseline
# custom:
#   id: KSV008
#   avd_id: AVD-KSV-0008
#   severity: HIGH
#   recommended_action: "Do not set 'spec.template.spec.hostIPC' to true."
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
package builtin.kubernetes.KSV008

import rego.v1

deny contains res if {
	data.sightline.lib.k8s.pod_spec.hostIPC == true
	res := data.sightline.lib.result.new(sprintf("%s should not set 'spec.template.spec.hostIPC' to true", [data.sightline.lib.k8s.subject]), data.sightline.lib.k8s.pod_spec)
}
