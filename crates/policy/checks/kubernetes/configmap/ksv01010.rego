# METADATA
# title: "ConfigMap with sensitive content"
# description: "Storing sensitive content such as usernames, passwords and email addresses in configMaps is unsafe."
# scope: package
# schemas:
# - input: schema["kubernetes"]
# related_resources:
# - https://kubernetes.io/docs/concepts/configuration/secret/
# custom:
#   id: KSV01010
#   avd_id: AVD-KSV-01010
#   severity: HIGH
#   recommended_action: "Remove sensitive content from the ConfigMap data values and keep it in a Secret."
#   category: "Kubernetes Security Check"
#   input:
#     selector:
#     - type: kubernetes
#       subtypes:
#         - kind: configmap
package builtin.kubernetes.KSV01010

import rego.v1

# Keys whose names say they hold credentials: `db_password`, `apiKey`, `AZURE_BATCH_KEY`
# (`key` as a word of the name). `passwordPolicy` matches too, on purpose: a false alarm on
# a policy text costs less than a silent credential.
sensitive_key := `(?i)(passw(or)?d|passwd|secret|token|api[_.-]?key|private[_.-]?key|credential|auth[_.-]?key|access[_.-]?key|(^|[^a-z])keys?([^a-z]|$))`

# Values that embed credentials or personal data.
sensitive_value := [
	`(?i)\b(user(name)?|login)\s*[=:]\s*\S+`,
	`(?i)\b(passw(or)?d|pwd)\s*[=:]\s*\S+`,
	`[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}`,
	`[a-zA-Z][a-zA-Z0-9+.-]*://[^/\s:@]+:[^/\s@]+@`,
	`-----BEGIN[A-Z ]* PRIVATE KEY-----`,
]

configmap_data := d if {
	d := object.get(input, "data", {})
	is_object(d)
} else := {}

# Values that are references, not credentials.
benign_value(v) if v == ""

benign_value(v) if regex.match(`^\$\{?[A-Za-z_][A-Za-z0-9_]*\}?$`, v)

deny contains res if {
	some key, value in configmap_data
	key != "__defsec_metadata"
	is_string(value)
	regex.match(sensitive_key, key)
	not benign_value(value)
	res := data.sightline.lib.result.new(sprintf("ConfigMap '%s' has sensitive key '%s'", [data.sightline.lib.k8s.name, key]), input.data)
}

deny contains res if {
	some key, value in configmap_data
	key != "__defsec_metadata"
	is_string(value)
	some p in sensitive_value
	regex.match(p, value)
	res := data.sightline.lib.result.new(sprintf("ConfigMap '%s' has sensitive content in key '%s'", [data.sightline.lib.k8s.name, key]), input.data)
}
