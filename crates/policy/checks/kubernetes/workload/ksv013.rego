# METADATA
# title: "Image tag \":latest\" used"
# description: "It is best to avoid using the ':latest' image tag when deploying containers in production. Doing so makes it hard to track which version of the image is running, and hard to roll back."
# scope: package
# schemas:
# - input: schema["kubernetes"]
# related_resources:
# - https://kubernetes.io/docs/concepts/configuration/overview/#container-images
# custom:
#   id: KSV013
#   avd_id: AVD-KSV-0013
#   severity: MEDIUM
#   recommended_action: "Use a specific container image tag that is not 'latest'."
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
package builtin.kubernetes.KSV013

import rego.v1

unpinned(c) if {
	not data.sightline.lib.k8s.image_has_digest(c.image)
	data.sightline.lib.k8s.image_tag(c.image) in {"", "latest"}
}

deny contains res if {
	some f in data.sightline.lib.k8s.container_facts
	c := f.container
	unpinned(c)
	res := data.sightline.lib.result.new(sprintf("%s should specify an image tag", [f.subject]), c)
}
