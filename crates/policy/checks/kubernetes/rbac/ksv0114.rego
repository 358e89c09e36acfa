# METADATA
# title: "Manage webhookconfigurations"
# description: "Webhooks can silently intercept or actively mutate/block resources as they are being created or updated. This includes secrets and pod specs."
# scope: package
# schemas:
# - input: schema["kubernetes"]
# related_resources:
# - https://kubernetes.io/docs/concepts/security/rbac-good-practices/
# custom:
#   id: KSV0114
#   avd_id: AVD-KSV-0114
#   severity: CRITICAL
#   recommended_action: "Remove webhook configuration resources/verbs, acceptable values for verbs ['get', 'list', 'watch']."
#   category: "Kubernetes Security Check"
#   input:
#     selector:
#     - type: kubernetes
#       subtypes:
#         - kind: role
#         - kind: clusterrole
package builtin.kubernetes.KSV0114

import rego.v1

import data.sightline.lib.k8s
import data.sightline.lib.rbac
import data.sightline.lib.result

deny contains res if {
	rbac.is_role
	some r in rbac.rules
	some resource in ["mutatingwebhookconfigurations", "validatingwebhookconfigurations"]
	rbac.grants(r, rbac.write_verbs, "admissionregistration.k8s.io", resource)
	res := result.new(sprintf("%s should not have access to manage '%s'", [rbac.subject, resource]), r)
}
