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

import data.sightline.lib.rbac
import data.sightline.lib.result

deny contains res if {
	rbac.is_cluster_role
	some r in rbac.rules
	"*" in rbac.field(r, "resources")
	some v in ["create", "update", "delete", "deletecollection", "impersonate", "*", "list", "get"]
	v in rbac.field(r, "verbs")
	res := result.new(sprintf("%s shouldn't manage all resources", [rbac.subject]), r)
}
