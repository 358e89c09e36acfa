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

deny contains res if {
	some f in data.sightline.lib.k8s.container_facts
	c := f.container
	not f.effective.runAsNonRoot == true
	res := data.sightline.lib.result.new(sprintf("%s should set 'securityContext.runAsNonRoot' to true", [f.subject]), c)
}
