# METADATA
# title: "ConfigMap with secrets"
# description: "Storing secrets in configMaps is unsafe: ConfigMaps are not encrypted at rest and are readable by anyone who may read the namespace's configuration."
# scope: package
# schemas:
# - input: schema["kubernetes"]
# related_resources:
# - https://kubernetes.io/docs/concepts/configuration/secret/
# custom:
#   id: KSV0109
#   avd_id: AVD-KSV-0109
#   severity: HIGH
#   recommended_action: "Remove secrets from the ConfigMap and store them in a Secret (or an external secret manager)."
#   category: "Kubernetes Security Check"
#   input:
#     selector:
#     - type: kubernetes
#       subtypes:
#         - kind: configmap
package builtin.kubernetes.KSV0109

import rego.v1

configmap_data := d if {
	d := object.get(input, "data", {})
	is_object(d)
} else := {}

# Secret detection is Sightline's secret scanner (the `sightline.secrets` extension: the
# same rules `sightline image` applies to files), run over each value as `key: value`.
deny contains res if {
	some key, value in configmap_data
	key != "__defsec_metadata"
	is_string(value)
	some finding in sightline.secrets(concat("", [key, ": ", value]))
	res := data.sightline.lib.result.new(sprintf("ConfigMap '%s' has a secret in key '%s': %s (%s)", [data.sightline.lib.k8s.name, key, finding.title, finding.rule_id]), input.data)
}
