# METADATA
# title: "limit range usage"
# description: "Ensure limit range policy has configure in order to limit resource usage for namespaces or nodes."
# scope: package
# schemas:
# - input: schema["kubernetes"]
# related_resources:
# - https://kubernetes.io/docs/concepts/policy/limit-range/
# custom:
#   id: KSV039
#   avd_id: AVD-KSV-0039
#   severity: LOW
#   recommended_action: "Create limit range policy with a default request and limit, min and max request, for each container."
#   category: "Kubernetes Security Check"
#   input:
#     selector:
#     - type: kubernetes
#       subtypes:
#         - kind: limitrange
package builtin.kubernetes.KSV039

import rego.v1

complete(l) if {
	l.type
	l.max
	l.min
	l.default
	l.defaultRequest
}

deny contains res if {
	not any_complete
	res := data.sightline.lib.result.new(sprintf("LimitRange '%s' should set type, max, min, default and defaultRequest", [data.sightline.lib.k8s.name]), input)
}

any_complete if {
	some l in data.sightline.lib.k8s.array_at(input, ["spec", "limits"])
	complete(l)
}
