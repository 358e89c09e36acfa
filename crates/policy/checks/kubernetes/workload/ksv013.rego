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

import data.sightline.lib.k8s
import data.sightline.lib.result

unpinned(c) if {
	not k8s.image_has_digest(c.image)
	k8s.image_tag(c.image) in {"", "latest"}
}

deny contains res if {
	some c in k8s.containers
	unpinned(c)
	res := result.new(sprintf("%s should specify an image tag", [k8s.container_subject(c)]), c)
}
