# METADATA
# title: "Images from the internal registry only"
# description: "Containers must pull from registry.internal.example."
# custom:
#   id: TEST002
#   avd_id: AVD-TEST-0002
#   severity: HIGH
#   recommended_action: "Mirror the image to registry.internal.example."
#   input:
#     selector:
#     - type: kubernetes
#       subtypes:
#         - kind: deployment
#         - kind: pod
package user.kubernetes.TEST002

import rego.v1

# Trivy-style: result.new without an import (a builtin in Trivy, an extension here).
deny contains res if {
	some c in input.spec.template.spec.containers
	not startswith(c.image, "registry.internal.example/")
	res := result.new(sprintf("container %s uses %s", [c.name, c.image]), c)
}
