# METADATA
# title: "NET_RAW capability added"
# description: "The NET_RAW capability grants attackers the ability to eavesdrop on network traffic or generate IP traffic with falsified source addresses, posing serious security risks."
# scope: package
# schemas:
# - input: schema["kubernetes"]
# related_resources:
# - https://kubernetes.io/docs/concepts/security/pod-security-standards/
# custom:
#   id: KSV0119
#   avd_id: AVD-KSV-0119
#   severity: HIGH
#   recommended_action: "Remove the NET_RAW capability from 'containers[].securityContext.capabilities.add'; drop all capabilities and add only the necessary ones."
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
package builtin.kubernetes.KSV0119

import rego.v1

deny contains res if {
	some f in data.sightline.lib.k8s.container_facts
	c := f.container
	"NET_RAW" in f.added
	res := data.sightline.lib.result.new(sprintf("%s should not include 'NET_RAW' in 'securityContext.capabilities.add'", [f.subject]), c)
}
