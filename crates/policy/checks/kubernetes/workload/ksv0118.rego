# METADATA
# title: "Default security context configured"
# description: "Security context controls the allocation of security parameters for the pod/container/volume, ensuring the appropriate level of protection. Relying on default security context may expose vulnerabilities to potential attacks that rely on privileged access."
# scope: package
# schemas:
# - input: schema["kubernetes"]
# related_resources:
# - https://kubernetes.io/docs/tasks/configure-pod-container/security-context/
# custom:
#   id: KSV0118
#   avd_id: AVD-KSV-0118
#   severity: HIGH
#   recommended_action: "Explicitly define the required security parameters (such as runAsNonRoot, capabilities, readOnlyRootFilesystem) in the security context of the pod and of each container."
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
package builtin.kubernetes.KSV0118

import rego.v1

empty(sc) if count(object.remove(sc, ["__defsec_metadata"])) == 0

deny contains res if {
	empty(data.sightline.lib.k8s.pod_security_context)
	res := data.sightline.lib.result.new(sprintf("%s is using the default security context, which allows root privileges", [data.sightline.lib.k8s.subject]), data.sightline.lib.k8s.pod_spec)
}

deny contains res if {
	some f in data.sightline.lib.k8s.container_facts
	c := f.container
	empty(f.sc)
	res := data.sightline.lib.result.new(sprintf("%s is using the default security context", [f.subject]), c)
}
