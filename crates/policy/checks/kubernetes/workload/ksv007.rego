# METADATA
# title: "Manages /etc/hosts"
# description: "Managing /etc/hosts aliases can prevent the container engine from modifying the file after a pod's containers have already been started."
# scope: package
# schemas:
# - input: schema["kubernetes"]
# related_resources:
# - https://kubernetes.io/docs/tasks/network/customize-hosts-file-for-pods/
# custom:
#   id: KSV007
#   avd_id: AVD-KSV-0007
#   severity: LOW
#   recommended_action: "Do not set 'spec.template.spec.hostAliases'."
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
package builtin.kubernetes.KSV007

import rego.v1

deny contains res if {
	aliases := data.sightline.lib.k8s.pod_spec.hostAliases
	count(aliases) > 0
	res := data.sightline.lib.result.new(sprintf("%s should not set 'spec.template.spec.hostAliases'", [data.sightline.lib.k8s.subject]), data.sightline.lib.k8s.pod_spec)
}
