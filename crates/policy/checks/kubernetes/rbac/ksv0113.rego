# METADATA
# title: "Manage namespace secrets"
# description: "Viewing secrets at the namespace scope can lead to escalation if another service account in that namespace has a higher privileged rolebinding or clusterrolebinding bound."
# scope: package
# schemas:
# - input: schema["kubernetes"]
# related_resources:
# - https://kubernetes.io/docs/concepts/security/rbac-good-practices/
# custom:
#   id: KSV0113
#   avd_id: AVD-KSV-0113
#   severity: MEDIUM
#   recommended_action: "Manage namespace secrets are not allowed. Remove resource 'secrets' from role."
#   category: "Kubernetes Security Check"
#   input:
#     selector:
#     - type: kubernetes
#       subtypes:
#         - kind: role
package builtin.kubernetes.KSV0113

import rego.v1

deny contains res if {
	data.sightline.lib.rbac.is_namespaced_role
	some r in data.sightline.lib.rbac.rules_granting(["get", "list", "watch", "create", "update", "patch", "delete", "deletecollection", "impersonate", "*"], "", "secrets")
	res := data.sightline.lib.result.new(sprintf("%s should not have access to manage secrets in namespace", [data.sightline.lib.rbac.subject]), r)
}
