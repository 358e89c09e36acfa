# METADATA
# title: "Selector usage in network policies"
# description: "Ensure that network policies selectors are applied to pods or namespaces to restricted ingress and egress traffic within the pod network."
# scope: package
# schemas:
# - input: schema["kubernetes"]
# related_resources:
# - https://kubernetes.io/docs/concepts/services-networking/network-policies/
# custom:
#   id: KSV038
#   avd_id: AVD-KSV-0038
#   severity: MEDIUM
#   recommended_action: "Create network policies and ensure that pods are selected using the podSelector and/or the namespaceSelector options."
#   category: "Kubernetes Security Check"
#   input:
#     selector:
#     - type: kubernetes
#       subtypes:
#         - kind: networkpolicy
package builtin.kubernetes.KSV038

import rego.v1

peers contains p if {
	some r in data.sightline.lib.k8s.array_at(input, ["spec", "ingress"])
	some p in data.sightline.lib.k8s.array_at(r, ["from"])
}

peers contains p if {
	some r in data.sightline.lib.k8s.array_at(input, ["spec", "egress"])
	some p in data.sightline.lib.k8s.array_at(r, ["to"])
}

selects(p) if p.podSelector

selects(p) if p.namespaceSelector

selects(p) if p.ipBlock

deny contains res if {
	not input.spec.podSelector
	res := data.sightline.lib.result.new(sprintf("NetworkPolicy '%s' should set 'spec.podSelector'", [data.sightline.lib.k8s.name]), input.spec)
}

deny contains res if {
	some p in peers
	not selects(p)
	res := data.sightline.lib.result.new(sprintf("NetworkPolicy '%s' should select peers with podSelector or namespaceSelector", [data.sightline.lib.k8s.name]), p)
}
