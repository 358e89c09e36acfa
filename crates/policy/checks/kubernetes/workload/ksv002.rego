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

prefix := "container.apparmor.security.beta.kubernetes.io/"

allowed_profile(p) if p == "runtime/default"

allowed_profile(p) if startswith(p, "localhost/")

deny contains res if {
	some key, profile in data.sightline.lib.k8s.pod_annotations
	startswith(key, prefix)
	not allowed_profile(profile)
	cname := substring(key, count(prefix), -1)
	res := data.sightline.lib.result.new(sprintf("Container '%s' of %s '%s' should specify an AppArmor profile ('runtime/default' or 'localhost/...'), not '%s'", [cname, data.sightline.lib.k8s.kind, data.sightline.lib.k8s.name, profile]), data.sightline.lib.k8s.pod_metadata)
}

deny contains res if {
	data.sightline.lib.k8s.pod_security_context.appArmorProfile.type == "Unconfined"
	res := data.sightline.lib.result.new(sprintf("%s should not set 'securityContext.appArmorProfile.type' to 'Unconfined'", [data.sightline.lib.k8s.subject]), data.sightline.lib.k8s.pod_security_context)
}

deny contains res if {
	some f in data.sightline.lib.k8s.container_facts
	c := f.container
	f.sc.appArmorProfile.type == "Unconfined"
	res := data.sightline.lib.result.new(sprintf("%s should not set 'securityContext.appArmorProfile.type' to 'Unconfined'", [f.subject]), c)
}
