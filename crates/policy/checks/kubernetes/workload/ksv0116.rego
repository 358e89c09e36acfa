# METADATA
# title: "Runs with a root primary or supplementary GID"
# description: "According to pod security standard 'Non-root groups', containers should be forbidden from running with a root primary or supplementary GID."
# scope: package
# schemas:
# - input: schema["kubernetes"]
# related_resources:
# - https://kubernetes.io/docs/concepts/security/pod-security-standards/
# custom:
#   id: KSV0116
#   avd_id: AVD-KSV-0116
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
package builtin.kubernetes.KSV0116

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
