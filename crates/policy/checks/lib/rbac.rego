# RBAC helpers: which rules of a Role/ClusterRole grant a verb on a resource.
package sightline.lib.rbac

import rego.v1

role_kinds := {"Role", "ClusterRole"}

binding_kinds := {"RoleBinding", "ClusterRoleBinding"}

is_role if input.kind in role_kinds

is_cluster_role if input.kind == "ClusterRole"

is_namespaced_role if input.kind == "Role"

# The role's rules ([] for `rules: null`, e.g. aggregated roles).
rules := r if {
	r := input.rules
	is_array(r)
} else := []

_has(list, v) if v in list

_has(list, _) if "*" in list

# The list `key` of a rule ([] when missing or null).
field(rule, key) := v if {
	v := rule[key]
	is_array(v)
} else := []

# True when `rule` grants at least one of `verbs` on `resource` in API group `group`.
grants(rule, verbs, group, resource) if {
	_has(field(rule, "apiGroups"), group)
	_has(field(rule, "resources"), resource)
	some v in verbs
	_has(field(rule, "verbs"), v)
}

# The rules granting one of `verbs` on `resource` in `group`.
rules_granting(verbs, group, resource) := [r | some r in rules; grants(r, verbs, group, resource)]

# Verbs that change state.
write_verbs := ["create", "update", "patch", "delete", "deletecollection", "impersonate", "*"]

# Verbs that read.
read_verbs := ["get", "list", "watch", "*"]

subject := sprintf("%s '%s'", [input.kind, object.get(input, ["metadata", "name"], "")])
