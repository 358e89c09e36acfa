# METADATA
# title: "No wildcard verb and resource roles"
# description: "Check whether role permits wildcard verb on wildcard resource."
# scope: package
# schemas:
# - input: schema["kubernetes"]
# related_resources:
# - https://kubernetes.io/docs/concepts/security/rbac-good-practices/
# custom:
#   id: KSV044
#   avd_id: AVD-KSV-0044
#   severity: CRITICAL
#   recommended_action: "Create a role which does not permit wildcard verb on wildcard resource."
#   category: "Kubernetes Security Check"
#   input:
#     selector:
#     - type: kubernetes
#       subtypes:
#         - kind: role
#         - kind: clusterrole
package builtin.kubernetes.KSV044

import rego.v1

import data.sightline.lib.rbac
import data.sightline.lib.result

deny contains res if {
	rbac.is_role
	some r in rbac.rules
	"*" in rbac.field(r, "apiGroups")
	"*" in rbac.field(r, "resources")
	"*" in rbac.field(r, "verbs")
	res := result.new(sprintf("%s shouldn't grant all verbs ('*') on all resources ('*') of all API groups", [rbac.subject]), r)
}
