# METADATA
# title: "Broken"
# custom:
#   id: BAD001
#   severity: LOW
package bad.syntax

deny contains msg if {
	msg := "unterminated
