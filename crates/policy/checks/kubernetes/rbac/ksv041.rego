# METADATA
# title: "Manage secrets"
# description: "Viewing secrets at the cluster-scope is akin to cluster-admin: it exposes every service account token and credential of the cluster."
# scope: package
# schemas:
# - input: schema["kubernetes"]
# related_resources:
# - https://kubernetes.io/docs/concepts/security/rbac-good-practices/
# custom:
#   id: KSV041
#   avd_id: AVD-KSV-0041
#   severity: CRITICAL
#   recommended_action: "Manage secrets are not allowed. Remove resource 'secrets' from cluster role."
#   category: "Kubernetes Security Check"
#   input:
#     selector:
#     - type: kubernetes
#       subtypes:
#         - kind: clusterrole
package builtin.kubernetes.KSV041

import rego.v1

deny contains res if {
	data.sightline.lib.rbac.is_cluster_role
	some r in data.sightline.lib.rbac.rules_granting(["get", "list", "watch", "*"], "", "secrets")
	res := data.sightline.lib.result.new(sprintf("%s should not have access to manage secrets", [data.sightline.lib.rbac.subject]), r)
}
