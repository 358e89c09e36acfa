# METADATA
# title: "A root primary or supplementary GID set"
# description: "Containers should be forbidden from running with a root primary or supplementary GID."
# scope: package
# schemas:
# - input: schema["kubernetes"]
# related_resources:
# - https://kubesec.io/basics/containers-securitycontext-runasuser/
# custom:
#   id: KSV029
#   avd_id: AVD-KSV-0029
#   severity: LOW
#   recommended_action: "Set 'containers[].securityContext.runAsGroup' to a non-zero integer or leave undefined."
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
package builtin.kubernetes.KSV029

import rego.v1

deny contains res if {
	data.sightline.lib.k8s.pod_security_context.runAsGroup == 0
	res := data.sightline.lib.result.new(sprintf("%s should set 'securityContext.runAsGroup' to a non-zero integer", [data.sightline.lib.k8s.subject]), data.sightline.lib.k8s.pod_security_context)
}

deny contains res if {
	0 in data.sightline.lib.k8s.array_at(data.sightline.lib.k8s.pod_security_context, ["supplementalGroups"])
	res := data.sightline.lib.result.new(sprintf("%s should not include 0 in 'securityContext.supplementalGroups'", [data.sightline.lib.k8s.subject]), data.sightline.lib.k8s.pod_security_context)
}

deny contains res if {
	data.sightline.lib.k8s.pod_security_context.fsGroup == 0
	res := data.sightline.lib.result.new(sprintf("%s should set 'securityContext.fsGroup' to a non-zero integer", [data.sightline.lib.k8s.subject]), data.sightline.lib.k8s.pod_security_context)
}

deny contains res if {
	some f in data.sightline.lib.k8s.container_facts
	c := f.container
	f.sc.runAsGroup == 0
	res := data.sightline.lib.result.new(sprintf("%s should set 'securityContext.runAsGroup' to a non-zero integer", [f.subject]), c)
}
