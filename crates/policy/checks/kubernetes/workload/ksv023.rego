# METADATA
# title: "hostPath volumes mounted"
# description: "According to pod security standard 'HostPath Volumes', HostPath volumes must be forbidden."
# scope: package
# schemas:
# - input: schema["kubernetes"]
# related_resources:
# - https://kubernetes.io/docs/concepts/security/pod-security-standards/#baseline
# custom:
#   id: KSV023
#   avd_id: AVD-KSV-0023
#   severity: MEDIUM
#   recommended_action: "Do not set 'spec.volumes[*].hostPath'."
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
package builtin.kubernetes.KSV023

import rego.v1

deny contains res if {
	some v in data.sightline.lib.k8s.volumes
	v.hostPath
	res := data.sightline.lib.result.new(sprintf("%s should not set 'spec.template.volumes.hostPath' (volume '%s')", [data.sightline.lib.k8s.subject, object.get(v, "name", "")]), v)
}
