# METADATA
# title: "Access to host PID"
# description: "Sharing the host's PID namespace allows visibility on host processes, potentially leaking information such as environment variables and configuration."
# scope: package
# schemas:
# - input: schema["kubernetes"]
# related_resources:
# - https://kubernetes.io/docs/concepts/security/pod-security-standards/#baseline
# custom:
#   id: KSV010
#   avd_id: AVD-KSV-0010
#   severity: HIGH
#   recommended_action: "Do not set 'spec.template.spec.hostPID' to true."
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
package builtin.kubernetes.KSV010

import rego.v1

deny contains res if {
	data.sightline.lib.k8s.pod_spec.hostPID == true
	res := data.sightline.lib.result.new(sprintf("%s should not set 'spec.template.spec.hostPID' to true", [data.sightline.lib.k8s.subject]), data.sightline.lib.k8s.pod_spec)
}
