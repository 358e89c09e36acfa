# METADATA
# title: "Runtime/Default Seccomp profile not set"
# description: "According to pod security standard 'Seccomp', the RuntimeDefault seccomp profile must be required, or allow specific additional profiles."
# scope: package
# schemas:
# - input: schema["kubernetes"]
# related_resources:
# - https://kubernetes.io/docs/concepts/security/pod-security-standards/#restricted
# custom:
#   id: KSV030
#   avd_id: AVD-KSV-0030
#   severity: LOW
#   recommended_action: "Set 'spec.securityContext.seccompProfile.type', 'spec.containers[*].securityContext.seccompProfile' and 'spec.initContainers[*].securityContext.seccompProfile' to 'RuntimeDefault'."
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
package builtin.kubernetes.KSV030

import rego.v1

good_type(t) if t in {"RuntimeDefault", "Localhost"}

good_annotation(v) if v in {"runtime/default", "docker/default"}

good_annotation(v) if startswith(v, "localhost/")

pod_profile_ok if good_type(data.sightline.lib.k8s.pod_security_context.seccompProfile.type)

pod_profile_ok if good_annotation(data.sightline.lib.k8s.pod_annotations["seccomp.security.alpha.kubernetes.io/pod"])

container_ok(f) if good_type(f.sc.seccompProfile.type)

container_ok(f) if {
	not f.sc.seccompProfile.type
	good_annotation(data.sightline.lib.k8s.pod_annotations[concat("", ["container.seccomp.security.alpha.kubernetes.io/", f.container.name])])
}

container_ok(f) if {
	not f.sc.seccompProfile.type
	pod_profile_ok
}

deny contains res if {
	some f in data.sightline.lib.k8s.container_facts
	c := f.container
	not container_ok(f)
	res := data.sightline.lib.result.new(sprintf("%s should set 'securityContext.seccompProfile.type' to 'RuntimeDefault'", [f.subject]), c)
}
