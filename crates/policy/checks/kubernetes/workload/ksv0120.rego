# METADATA
# title: "SYS_MODULE capability added"
# description: "The SYS_MODULE capability grants attackers the ability to install and remove kernel modules, posing serious security risks."
# scope: package
# schemas:
# - input: schema["kubernetes"]
# related_resources:
# - https://kubernetes.io/docs/tasks/configure-pod-container/security-context/
# custom:
#   id: KSV0120
#   avd_id: AVD-KSV-0120
#   severity: HIGH
#   recommended_action: "Remove the SYS_MODULE capability from 'containers[].securityContext.capabilities.add'; drop all capabilities and add only the necessary ones."
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
package builtin.kubernetes.KSV0120

import rego.v1

deny contains res if {
	some f in data.sightline.lib.k8s.container_facts
	c := f.container
	"SYS_MODULE" in f.added
	res := data.sightline.lib.result.new(sprintf("%s should not include 'SYS_MODULE' in 'securityContext.capabilities.add'", [f.subject]), c)
}
