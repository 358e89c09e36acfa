# METADATA
# title: "Manage EKS IAM Auth ConfigMap"
# description: "Ability to add AWS IAM to RBAC bindings via special EKS configmap."
# scope: package
# schemas:
# - input: schema["kubernetes"]
# related_resources:
# - https://kubernetes.io/docs/concepts/security/rbac-good-practices/
# custom:
#   id: KSV0115
#   avd_id: AVD-KSV-0115
#   severity: CRITICAL
#   recommended_action: "Remove write permission verbs for resource 'configmaps' named 'aws-auth'."
#   category: "Kubernetes Security Check"
#   input:
#     selector:
#     - type: kubernetes
#       subtypes:
#         - kind: role
#         - kind: clusterrole
package builtin.kubernetes.KSV0115

import rego.v1

deny contains res if {
	data.sightline.lib.rbac.is_role
	some r in data.sightline.lib.rbac.rules_granting(data.sightline.lib.rbac.write_verbs, "", "configmaps")
	"aws-auth" in data.sightline.lib.rbac.field(r, "resourceNames")
	res := data.sightline.lib.result.new(sprintf("%s should not have access to manage the 'aws-auth' ConfigMap", [data.sightline.lib.rbac.subject]), r)
}
