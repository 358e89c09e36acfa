# METADATA
# title: "User Pods should not be placed in kube-system namespace"
# description: "Ensure that User pods are not placed in kube-system namespace."
# scope: package
# schemas:
# - input: schema["kubernetes"]
# related_resources:
# - https://kubernetes.io/docs/reference/setup-tools/kubeadm/implementation-details/
# custom:
#   id: KSV037
#   avd_id: AVD-KSV-0037
#   severity: MEDIUM
#   recommended_action: "Deploy the user pods into a designated namespace which is not kube-system."
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
package builtin.kubernetes.KSV037

import rego.v1

deny contains res if {
	data.sightline.lib.k8s.namespace == "kube-system"
	res := data.sightline.lib.result.new(sprintf("%s should not be deployed in the kube-system namespace", [data.sightline.lib.k8s.subject]), input.metadata)
}
