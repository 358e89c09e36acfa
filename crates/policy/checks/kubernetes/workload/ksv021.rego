# METADATA
# title: "Runs with GID <= 10000"
# description: "Force the container to run with group ID > 10000 to avoid conflicts with the host's user table."
# scope: package
# schemas:
# - input: schema["kubernetes"]
# related_resources:
# - https://kubesec.io/basics/containers-securitycontext-runasuser/
# custom:
#   id: KSV021
#   avd_id: AVD-KSV-0021
#   severity: LOW
#   recommended_action: "Set 'containers[].securityContext.runAsGroup' to an integer > 10000."
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
package builtin.kubernetes.KSV021

import rego.v1

deny contains res if {
	some f in data.sightline.lib.k8s.container_facts
	c := f.container
	not f.effective.runAsGroup > 10000
	res := data.sightline.lib.result.new(sprintf("%s should set 'securityContext.runAsGroup' > 10000", [f.subject]), c)
}
