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

import data.sightline.lib.k8s
import data.sightline.lib.result

deny contains res if {
	some c in k8s.containers
	not k8s.effective(c, "runAsGroup") > 10000
	res := result.new(sprintf("%s should set 'securityContext.runAsGroup' > 10000", [k8s.container_subject(c)]), c)
}
