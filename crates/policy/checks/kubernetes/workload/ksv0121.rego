# METADATA
# title: "Kubernetes resource with disallowed volumes mounted"
# description: "HostPath present many security risks and as a security practice it is better to avoid critical host paths mounts."
# scope: package
# schemas:
# - input: schema["kubernetes"]
# related_resources:
# - https://kubernetes.io/docs/concepts/security/pod-security-standards/#restricted
# custom:
#   id: KSV0121
#   avd_id: AVD-KSV-0121
#   severity: HIGH
#   recommended_action: "Do not set 'spec.volumes[*].hostPath.path' to any of the disallowed volumes."
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
package builtin.kubernetes.KSV0121

import rego.v1

disallowed := ["/boot", "/dev", "/etc", "/lib", "/proc", "/sys", "/usr", "/var/lib/docker"]

bad_path(p) if trim_right(p, "/") == ""

bad_path(p) if {
	some d in disallowed
	clean := trim_right(p, "/")
	clean == d
}

bad_path(p) if {
	some d in disallowed
	startswith(p, concat("", [d, "/"]))
}

deny contains res if {
	some v in data.sightline.lib.k8s.volumes
	bad_path(v.hostPath.path)
	res := data.sightline.lib.result.new(sprintf("%s should not mount the disallowed host path '%s'", [data.sightline.lib.k8s.subject, v.hostPath.path]), v)
}
