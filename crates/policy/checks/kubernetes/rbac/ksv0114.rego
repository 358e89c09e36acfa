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

deny contains res if {
	data.sightline.lib.rbac.is_role
	some r in data.sightline.lib.rbac.rules
	some resource in ["mutatingwebhookconfigurations", "validatingwebhookconfigurations"]
	data.sightline.lib.rbac.grants(r, data.sightline.lib.rbac.write_verbs, "admissionregistration.k8s.io", resource)
	res := data.sightline.lib.result.new(sprintf("%s should not have access to manage '%s'", [data.sightline.lib.rbac.subject, resource]), r)
}
