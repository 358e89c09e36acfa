# METADATA
# title: "Runs as root user"
# description: "Force the running image to run as a non-root user to ensure least privileges."
# scope: package
# schemas:
# - input: schema["kubernetes"]
# related_resources:
# - https://kubesec.io/basics/containers-securitycontext-runasnonroot-true/
# custom:
#   id: KSV012
#   avd_id: AVD-KSV-0012
#   severity: MEDIUM
#   recommended_action: "Set 'containers[].securityContext.runAsNonRoot' to true."
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
package builtin.kubernetes.KSV012

import rego.v1

import data.sightline.lib.k8s
import data.sightline.lib.result

deny contains res if {
	some c in k8s.containers
	not k8s.effective(c, "runAsNonRoot") == true
	res := result.new(sprintf("%s should set 'securityContext.runAsNonRoot' to true", [k8s.container_subject(c)]), c)
}
