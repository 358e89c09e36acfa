# Building check results: the message plus the source lines of the cause (the object's
# `__defsec_metadata`, added by the loader when the input was parsed from text).
package sightline.lib.result

import rego.v1

new(msg, cause) := {
	"msg": msg,
	"startline": object.get(cause, ["__defsec_metadata", "startline"], 0),
	"endline": object.get(cause, ["__defsec_metadata", "endline"], 0),
}
