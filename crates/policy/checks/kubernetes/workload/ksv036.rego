# METADATA
# title: "Protecting Pod service account tokens"
# description: "Ensure that Pod specifications disable the secret token being mounted by setting automountServiceAccountToken: false."
# scope: package
# schemas:
# - input: schema["kubernetes"]
# related_resources:
# - https://kubernetes.io/docs/tasks/configure-pod-container/configure-service-account/
# custom:
#   id: KSV036
#   avd_id: AVD-KSV-0036
#   severity: MEDIUM
#   recommended_action: "Disable the mounting of service account secret token by setting automountServiceAccountToken to false."
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
package builtin.kubernetes.KSV036

import rego.v1

deny contains res if {
	not data.sightline.lib.k8s.pod_spec.automountServiceAccountToken == false
	res := data.sightline.lib.result.new(sprintf("%s should set 'spec.automountServiceAccountToken' to false", [data.sightline.lib.k8s.subject]), data.sightline.lib.k8s.pod_spec)
}
