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

import data.sightline.lib.rbac
import data.sightline.lib.result

deny contains res if {
	rbac.is_role
	some r in rbac.rules_granting(rbac.write_verbs, "", "configmaps")
	"aws-auth" in rbac.field(r, "resourceNames")
	res := result.new(sprintf("%s should not have access to manage the 'aws-auth' ConfigMap", [rbac.subject]), r)
}
