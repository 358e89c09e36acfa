# METADATA
# title: "Privileged container"
# description: "Privileged containers share namespaces with the host system and do not offer any security. They should be used exclusively for system containers that require high privileges."
# scope: package
# schemas:
# - input: schema["kubernetes"]
# related_resources:
# - https://kubernetes.io/docs/concepts/security/pod-security-standards/#baseline
# custom:
#   id: KSV017
#   avd_id: AVD-KSV-0017
#   severity: HIGH
#   recommended_action: "Change 'containers[].securityContext.privileged' to 'false'."
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
package builtin.kubernetes.KSV017

import rego.v1

import data.sightline.lib.k8s
import data.sightline.lib.result

deny contains res if {
	some c in k8s.containers
	c.securityContext.privileged == true
	res := result.new(sprintf("%s should set 'securityContext.privileged' to false", [k8s.container_subject(c)]), c)
}
