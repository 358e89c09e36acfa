# METADATA
# title: "Image tag \":latest\" used (bundle version)"
# description: "A bundle check replacing the built-in KSV013: images must be pinned by digest."
# custom:
#   id: KSV013
#   avd_id: AVD-KSV-0013
#   severity: HIGH
#   recommended_action: "Pin images by digest."
#   input:
#     selector:
#     - type: kubernetes
#       subtypes:
#         - kind: deployment
package bundle.kubernetes.KSV013

import rego.v1

deny contains res if {
	some c in input.spec.template.spec.containers
	not contains(c.image, "@sha256:")
	res := {"msg": sprintf("bundle: container %s is not pinned by digest", [c.name])}
}
