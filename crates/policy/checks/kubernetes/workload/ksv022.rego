# METADATA
# title: "Non-default capabilities added"
# description: "Adding capabilities beyond the default set must be disallowed."
# scope: package
# schemas:
# - input: schema["kubernetes"]
# related_resources:
# - https://kubernetes.io/docs/concepts/security/pod-security-standards/#baseline
# custom:
#   id: KSV022
#   avd_id: AVD-KSV-0022
#   severity: MEDIUM
#   recommended_action: "Do not set spec.containers[*].securityContext.capabilities.add and spec.initContainers[*].securityContext.capabilities.add."
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
package builtin.kubernetes.KSV022

import rego.v1

# The capabilities the Baseline Pod Security Standard allows to add.
allowed := {
	"AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "MKNOD",
	"NET_BIND_SERVICE", "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT",
}

deny contains res if {
	some f in data.sightline.lib.k8s.container_facts
	c := f.container
	extra := [cap | some cap in f.added; not cap in allowed]
	count(extra) > 0
	res := data.sightline.lib.result.new(sprintf("%s should not set 'securityContext.capabilities.add' to %s", [f.subject, concat(", ", extra)]), c)
}
