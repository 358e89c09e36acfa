# METADATA
# title: "Workloads in the default namespace"
# description: "Checks whether a workload is running in the default namespace."
# scope: package
# schemas:
# - input: schema["kubernetes"]
# related_resources:
# - https://kubernetes.io/docs/concepts/overview/working-with-objects/namespaces/
# custom:
#   id: KSV0110
#   avd_id: AVD-KSV-0110
#   severity: LOW
#   recommended_action: "Set 'metadata.namespace' to a non-default namespace."
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
package builtin.kubernetes.KSV0110

import rego.v1

deny contains res if {
	data.sightline.lib.k8s.namespace == "default"
	res := data.sightline.lib.result.new(sprintf("%s should set 'metadata.namespace' to a non-default namespace", [data.sightline.lib.k8s.subject]), object.get(input, "metadata", {}))
}
