# METADATA
# title: "Access to host ports"
# description: "According to pod security standard 'Host Ports', hostPorts should be disallowed, or at minimum restricted to a known list."
# scope: package
# schemas:
# - input: schema["kubernetes"]
# related_resources:
# - https://kubernetes.io/docs/concepts/security/pod-security-standards/#baseline
# custom:
#   id: KSV024
#   avd_id: AVD-KSV-0024
#   severity: HIGH
#   recommended_action: "Do not set spec.containers[*].ports[*].hostPort and spec.initContainers[*].ports[*].hostPort."
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
package builtin.kubernetes.KSV024

import rego.v1

deny contains res if {
	some f in data.sightline.lib.k8s.container_facts
	c := f.container
	some p in data.sightline.lib.k8s.array_at(c, ["ports"])
	p.hostPort > 0
	res := data.sightline.lib.result.new(sprintf("%s should not set host ports, 'ports[*].hostPort' (%d)", [f.subject, p.hostPort]), p)
}
