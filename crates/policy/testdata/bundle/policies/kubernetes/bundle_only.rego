# METADATA
# title: "Replicas set"
# description: "A bundle-only check: Deployments declare their replica count."
# custom:
#   id: BUNDLE001
#   severity: MEDIUM
#   recommended_action: "Set spec.replicas."
#   input:
#     selector:
#     - type: kubernetes
#       subtypes:
#         - kind: deployment
package bundle.kubernetes.BUNDLE001

import rego.v1

deny contains res if {
	not input.spec.replicas
	res := {"msg": sprintf("Deployment %s should set spec.replicas (min %d)", [input.metadata.name, data.bundle_config.min_replicas])}
}
