# METADATA
# title: "Restrict container images to trusted registries"
# description: "Ensure that all containers use images only from trusted registry domains."
# scope: package
# schemas:
# - input: schema["kubernetes"]
# related_resources:
# - https://kubernetes.io/docs/concepts/containers/images/
# custom:
#   id: KSV0125
#   avd_id: AVD-KSV-0125
#   severity: MEDIUM
#   recommended_action: "Use images from trusted registries."
#   category: "Kubernetes Security Check"
#   input:
#     selector:
#     - type: kubernetes
#       subtypes:
#         - kind: pod
#         - kind: replicaset
#         - kind: replicationcontroller
#         - kind: deployment
#         - kind: statefulset
#         - kind: daemonset
#         - kind: job
#         - kind: cronjob
package builtin.kubernetes.KSV0125

import rego.v1

# The trusted registries: `data.sightline.config.trusted_registries` when configured,
# else the managed registries of the major clouds and the Kubernetes project.
default_trusted := ["azurecr.io", "gcr.io", "pkg.dev", "amazonaws.com", "mcr.microsoft.com", "registry.k8s.io"]

trusted := data.sightline.config.trusted_registries if is_array(data.sightline.config.trusted_registries)

else := default_trusted

is_trusted(reg) if {
	some t in trusted
	reg == t
}

is_trusted(reg) if {
	some t in trusted
	endswith(reg, concat("", [".", t]))
}

deny contains res if {
	some f in data.sightline.lib.k8s.container_facts
	c := f.container
	reg := data.sightline.lib.k8s.image_registry(c.image)
	not is_trusted(reg)
	res := data.sightline.lib.result.new(sprintf("%s uses image '%s' from the untrusted registry '%s'", [f.subject, c.image, reg]), c)
}
