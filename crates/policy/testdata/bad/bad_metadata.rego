# METADATA
# title: "Severity is not one of Trivy's"
# custom:
#   id: BAD005
#   severity: SEVERE
package bad.bad_metadata

import rego.v1

deny contains "x" if false
