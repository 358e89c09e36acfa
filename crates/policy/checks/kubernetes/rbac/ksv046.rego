# METADATA
# title: "Manage all resources"
# description: "Full control of the cluster resources, and therefore also root on all nodes where workloads can run and has access to all pods, secrets, and data."
# scope: package
# schemas:
# - input: schema["kubernetes"]
# related_resources:
# - https://kubernetes.io/docs/concepts/security/rbac-good-practices/
# custom:
#   id: KSV046
#   avd_id: AVD-KSV-0046
#   severity: CRITICAL
#   recommended_action: "Remove '*' from 'rules.resources'. Provide specific list of resources to be managed by cluster role."
#   category: "Kubernetes Security Check"
#   input:
#     selector:
#     - type: kubernetes
#       subtypes:
#         - kind: clusterrole
package builtin.kubernetes.KSV046

import rego.v1

deny contains res if {
	data.sightline.lib.rbac.is_cluster_role
	some r in data.sightline.lib.rbac.rules
	"*" in data.sightline.lib.rbac.field(r, "resources")
	some v in ["create", "update", "delete", "deletecollection", "impersonate", "*", "list", "get"]
	v in data.sightline.lib.rbac.field(r, "verbs")
	res := data.sightline.lib.result.new(sprintf("%s shouldn't manage all resources", [data.sightline.lib.rbac.subject]), r)
}
