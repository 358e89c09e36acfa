# METADATA
# title: "Do not allow privilege escalation from node proxy"
# description: "Check whether role permits privilege escalation from node proxy."
# scope: package
# schemas:
# - input: schema["kubernetes"]
# related_resources:
# - https://kubernetes.io/docs/concepts/security/rbac-good-practices/
# custom:
#   id: KSV047
#   avd_id: AVD-KSV-0047
#   severity: HIGH
#   recommended_action: "Create a role which does not permit privilege escalation from node proxy."
#   category: "Kubernetes Security Check"
#   input:
#     selector:
#     - type: kubernetes
#       subtypes:
#         - kind: role
#         - kind: clusterrole
package builtin.kubernetes.KSV047

import rego.v1

deny contains res if {
	data.sightline.lib.rbac.is_role
	some r in data.sightline.lib.rbac.rules_granting(["get", "create", "*"], "", "nodes/proxy")
	res := data.sightline.lib.result.new(sprintf("%s should not allow privilege escalation from node proxy", [data.sightline.lib.rbac.subject]), r)
}
