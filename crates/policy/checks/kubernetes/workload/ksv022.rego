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

import data.sightline.lib.k8s
import data.sightline.lib.result

# The capabilities the Baseline Pod Security Standard allows to add.
allowed := {
	"AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "MKNOD",
	"NET_BIND_SERVICE", "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT",
}

deny contains res if {
	some c in k8s.containers
	extra := [cap | some cap in k8s.added_capabilities(c); not cap in allowed]
	count(extra) > 0
	res := result.new(sprintf("%s should not set 'securityContext.capabilities.add' to %s", [k8s.container_subject(c), concat(", ", extra)]), c)
}
