# METADATA
# title: "Unused capabilities should be dropped (drop any)"
# description: "Security best practices require containers to run with minimal required capabilities."
# scope: package
# schemas:
# - input: schema["kubernetes"]
# related_resources:
# - https://kubesec.io/basics/containers-securitycontext-capabilities-drop-index-all/
# custom:
#   id: KSV004
#   avd_id: AVD-KSV-0004
#   severity: LOW
#   recommended_action: "Specify at least one unneeded capability in 'containers[].securityContext.capabilities.drop'."
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
package builtin.kubernetes.KSV004

import rego.v1

deny contains res if {
	some f in data.sightline.lib.k8s.container_facts
	c := f.container
	count(f.dropped) == 0
	res := data.sightline.lib.result.new(sprintf("%s should drop at least one capability in 'securityContext.capabilities.drop'", [f.subject]), c)
}
