# METADATA
# title: "Non-ephemeral volume types used"
# description: "According to pod security standard 'Volume types', non-ephemeral volume types must not be used."
# scope: package
# schemas:
# - input: schema["kubernetes"]
# related_resources:
# - https://kubernetes.io/docs/concepts/security/pod-security-standards/#restricted
# custom:
#   id: KSV028
#   avd_id: AVD-KSV-0028
#   severity: LOW
#   recommended_action: "Do not set 'spec.volumes[*]' to any of the disallowed volume types."
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
package builtin.kubernetes.KSV028

import rego.v1

allowed := {"name", "configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "persistentVolumeClaim", "projected", "secret", "__defsec_metadata"}

deny contains res if {
	some v in data.sightline.lib.k8s.volumes
	some key, _ in v
	not key in allowed
	res := data.sightline.lib.result.new(sprintf("%s should set 'spec.volumes[*]' to an allowed volume type, not '%s' (volume '%s')", [data.sightline.lib.k8s.subject, key, object.get(v, "name", "")]), v)
}
