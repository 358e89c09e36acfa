# METADATA
# title: "Seccomp policies disabled"
# description: "A program inside the container can bypass Seccomp protection policies."
# scope: package
# schemas:
# - input: schema["kubernetes"]
# related_resources:
# - https://kubernetes.io/docs/concepts/security/pod-security-standards/#baseline
# custom:
#   id: KSV0104
#   avd_id: AVD-KSV-0104
#   severity: MEDIUM
#   recommended_action: "Specify seccomp either by annotation or by seccomp profile type having allowed values as per pod security standards."
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
package builtin.kubernetes.KSV0104

import rego.v1

unconfined_annotation(v) if lower(v) == "unconfined"

deny contains res if {
	data.sightline.lib.k8s.pod_security_context.seccompProfile.type == "Unconfined"
	res := data.sightline.lib.result.new(sprintf("%s should not set 'securityContext.seccompProfile.type' to 'Unconfined'", [data.sightline.lib.k8s.subject]), data.sightline.lib.k8s.pod_security_context)
}

deny contains res if {
	some f in data.sightline.lib.k8s.container_facts
	c := f.container
	f.sc.seccompProfile.type == "Unconfined"
	res := data.sightline.lib.result.new(sprintf("%s should not set 'securityContext.seccompProfile.type' to 'Unconfined'", [f.subject]), c)
}

deny contains res if {
	some key, v in data.sightline.lib.k8s.pod_annotations
	startswith(key, "seccomp.security.alpha.kubernetes.io/")
	unconfined_annotation(v)
	res := data.sightline.lib.result.new(sprintf("%s should not set the seccomp annotation '%s' to 'unconfined'", [data.sightline.lib.k8s.subject, key]), data.sightline.lib.k8s.pod_metadata)
}

deny contains res if {
	some key, v in data.sightline.lib.k8s.pod_annotations
	startswith(key, "container.seccomp.security.alpha.kubernetes.io/")
	unconfined_annotation(v)
	res := data.sightline.lib.result.new(sprintf("%s should not set the seccomp annotation '%s' to 'unconfined'", [data.sightline.lib.k8s.subject, key]), data.sightline.lib.k8s.pod_metadata)
}
