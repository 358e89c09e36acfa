# METADATA
# title: "resource quota usage"
# description: "Ensure resource quota policy has configure in order to limit aggregate resource usage within namespace."
# scope: package
# schemas:
# - input: schema["kubernetes"]
# related_resources:
# - https://kubernetes.io/docs/concepts/policy/resource-quotas/
# custom:
#   id: KSV040
#   avd_id: AVD-KSV-0040
#   severity: LOW
#   recommended_action: "Create resource quota policy with mem and cpu quota per each namespace."
#   category: "Kubernetes Security Check"
#   input:
#     selector:
#     - type: kubernetes
#       subtypes:
#         - kind: resourcequota
package builtin.kubernetes.KSV040

import rego.v1

required := ["requests.cpu", "requests.memory", "limits.cpu", "limits.memory"]

deny contains res if {
	hard := object.get(input, ["spec", "hard"], {})
	missing := [k | some k in required; not hard[k]]
	count(missing) > 0
	res := data.sightline.lib.result.new(sprintf("ResourceQuota '%s' should set 'spec.hard' for %s", [data.sightline.lib.k8s.name, concat(", ", missing)]), input)
}
