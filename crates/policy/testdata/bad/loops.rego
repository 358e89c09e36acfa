# METADATA
# title: "Loops for ever (in practice)"
# custom:
#   id: BAD003
#   severity: LOW
package bad.loops

import rego.v1

# 10^10 iterations: far beyond any time limit.
deny contains msg if {
	some i in numbers.range(1, 100000)
	some j in numbers.range(1, 100000)
	i * j == -1
	msg := "never"
}
