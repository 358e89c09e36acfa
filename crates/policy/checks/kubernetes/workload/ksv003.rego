# METADATA
# title: "Default capabilities not dropped"
# description: "The container should drop all default capabilities and add only those that are needed for its execution."
# scope: package
# schemas:
# - input: schema["kubernetes"]
# related_resources:
# - https://kubesec.io/basics/containers-securitycontext-capabilities-drop-index-all/
# custom:
#   id: KSV003
#   avd_id: AVD-KSV-0003
#   severity: LOW
#   recommended_action: "Add 'ALL' to containers[].securityContext.capabilities.drop."
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
package builtin.kubernetes.KSV003

import rego.v1

deny contains res if {
	some f in data.sightline.lib.k8s.container_facts
	c := f.container
	not "ALL" in f.dropped
	res := data.sightline.lib.result.new(sprintf("%s should add 'ALL' to 'securityContext.capabilities.drop'", [f.subject]), c)
}
