# METADATA
# title: "SELinux custom options set"
# description: "According to pod security standard 'SElinux', setting custom SELinux options should be disallowed."
# scope: package
# schemas:
# - input: schema["kubernetes"]
# related_resources:
# - https://kubernetes.io/docs/concepts/security/pod-security-standards/#baseline
# custom:
#   id: KSV025
#   avd_id: AVD-KSV-0025
#   severity: MEDIUM
#   recommended_action: "Do not set 'spec.securityContext.seLinuxOptions', spec.containers[*].securityContext.seLinuxOptions and spec.initContainers[*].securityContext.seLinuxOptions."
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
package builtin.kubernetes.KSV025

import rego.v1

allowed_types := {"container_t", "container_init_t", "container_kvm_t", "container_engine_t"}

bad(opts) if {
	opts.type
	not opts.type in allowed_types
}

bad(opts) if opts.user

bad(opts) if opts.role

deny contains res if {
	bad(data.sightline.lib.k8s.pod_security_context.seLinuxOptions)
	res := data.sightline.lib.result.new(sprintf("%s should not set custom SELinux options in 'securityContext.seLinuxOptions'", [data.sightline.lib.k8s.subject]), data.sightline.lib.k8s.pod_security_context)
}

deny contains res if {
	some f in data.sightline.lib.k8s.container_facts
	c := f.container
	bad(f.sc.seLinuxOptions)
	res := data.sightline.lib.result.new(sprintf("%s should not set custom SELinux options in 'securityContext.seLinuxOptions'", [f.subject]), c)
}
