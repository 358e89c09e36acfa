# METADATA
# title: "Do not allow impersonation of privileged groups"
# description: "Check whether role permits impersonating privileged groups."
# scope: package
# schemas:
# - input: schema["kubernetes"]
# related_resources:
# - https://kubernetes.io/docs/concepts/security/rbac-good-practices/
# custom:
#   id: KSV043
#   avd_id: AVD-KSV-0043
#   severity: CRITICAL
#   recommended_action: "Create a role which does not permit to impersonate privileged groups if not needed."
#   category: "Kubernetes Security Check"
#   input:
#     selector:
#     - type: kubernetes
#       subtypes:
#         - kind: role
#         - kind: clusterrole
package builtin.kubernetes.KSV043

import rego.v1

deny contains res if {
	data.sightline.lib.rbac.is_role
	some r in data.sightline.lib.rbac.rules_granting(["impersonate"], "", "groups")
	res := data.sightline.lib.result.new(sprintf("%s should not allow impersonation of privileged groups", [data.sightline.lib.rbac.subject]), r)
}
