# METADATA
# title: "Calls an extension that panics"
# custom:
#   id: BAD004
#   severity: LOW
package bad.panics

import rego.v1

deny contains msg if {
	msg := test.explode(input.kind)
}
