# METADATA
# title: "Prevent binding to privileged ports"
# description: "The ports which are lower than 1024 receive and transmit various sensitive and privileged data. Allowing containers to use them can bring serious implications."
# scope: package
# schemas:
# - input: schema["kubernetes"]
# related_resources:
# - https://kubernetes.io/docs/concepts/security/pod-security-standards/
# custom:
#   id: KSV0117
#   avd_id: AVD-KSV-0117
#   severity: HIGH
#   recommended_action: "Do not map the container ports to privileged host ports when starting a container."
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
package builtin.kubernetes.KSV0117

import rego.v1

privileged(p) if {
	p > 0
	p < 1024
}

deny contains res if {
	some f in data.sightline.lib.k8s.container_facts
	c := f.container
	some p in data.sightline.lib.k8s.array_at(c, ["ports"])
	some field in ["hostPort", "containerPort"]
	privileged(p[field])
	res := data.sightline.lib.result.new(sprintf("%s should not set '%s' to a privileged port (%d)", [f.subject, field, p[field]]), p)
}
