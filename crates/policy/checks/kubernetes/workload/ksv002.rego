# METADATA
# title: "Default AppArmor profile not set"
# description: "A program inside the container can bypass AppArmor protection policies."
# scope: package
# schemas:
# - input: schema["kubernetes"]
# related_resources:
# - https://kubernetes.io/docs/concepts/security/pod-security-standards/#baseline
# custom:
#   id: KSV002
#   avd_id: AVD-KSV-0002
#   severity: MEDIUM
#   recommended_action: "Remove 'container.apparmor.security.beta.kubernetes.io' annotations or set them to 'runtime/default', and do not set 'appArmorProfile.type' to 'Unconfined'."
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
package builtin.kubernetes.KSV002

import rego.v1

import data.sightline.lib.k8s
import data.sightline.lib.result

prefix := "container.apparmor.security.beta.kubernetes.io/"

allowed_profile(p) if p == "runtime/default"

allowed_profile(p) if startswith(p, "localhost/")

deny contains res if {
	some key, profile in k8s.pod_annotations
	startswith(key, prefix)
	not allowed_profile(profile)
	cname := substring(key, count(prefix), -1)
	res := result.new(sprintf("Container '%s' of %s '%s' should specify an AppArmor profile ('runtime/default' or 'localhost/...'), not '%s'", [cname, k8s.kind, k8s.name, profile]), k8s.pod_metadata)
}

deny contains res if {
	k8s.pod_security_context.appArmorProfile.type == "Unconfined"
	res := result.new(sprintf("%s should not set 'securityContext.appArmorProfile.type' to 'Unconfined'", [k8s.subject]), k8s.pod_security_context)
}

deny contains res if {
	some c in k8s.containers
	c.securityContext.appArmorProfile.type == "Unconfined"
	res := result.new(sprintf("%s should not set 'securityContext.appArmorProfile.type' to 'Unconfined'", [k8s.container_subject(c)]), c)
}
