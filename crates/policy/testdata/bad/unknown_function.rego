# METADATA
# title: "Calls a function that does not exist"
# custom:
#   id: BAD002
#   severity: LOW
package bad.unknown_function

import rego.v1

deny contains msg if {
	msg := no_such_function(input.kind)
}
