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

import data.sightline.lib.k8s
import data.sightline.lib.result

unconfined_annotation(v) if lower(v) == "unconfined"

deny contains res if {
	k8s.pod_security_context.seccompProfile.type == "Unconfined"
	res := result.new(sprintf("%s should not set 'securityContext.seccompProfile.type' to 'Unconfined'", [k8s.subject]), k8s.pod_security_context)
}

deny contains res if {
	some c in k8s.containers
	c.securityContext.seccompProfile.type == "Unconfined"
	res := result.new(sprintf("%s should not set 'securityContext.seccompProfile.type' to 'Unconfined'", [k8s.container_subject(c)]), c)
}

deny contains res if {
	some key, v in k8s.pod_annotations
	startswith(key, "seccomp.security.alpha.kubernetes.io/")
	unconfined_annotation(v)
	res := result.new(sprintf("%s should not set the seccomp annotation '%s' to 'unconfined'", [k8s.subject, key]), k8s.pod_metadata)
}

deny contains res if {
	some key, v in k8s.pod_annotations
	startswith(key, "container.seccomp.security.alpha.kubernetes.io/")
	unconfined_annotation(v)
	res := result.new(sprintf("%s should not set the seccomp annotation '%s' to 'unconfined'", [k8s.subject, key]), k8s.pod_metadata)
}
