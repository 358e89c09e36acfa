# METADATA
# title: "hostPath volume mounted with docker.sock"
# description: "Mounting docker.sock from the host can give the container full root access to the host."
# scope: package
# schemas:
# - input: schema["kubernetes"]
# related_resources:
# - https://kubesec.io/basics/spec-volumes-hostpath-path-var-run-docker-sock/
# custom:
#   id: KSV006
#   avd_id: AVD-KSV-0006
#   severity: HIGH
#   recommended_action: "Do not specify '/var/run/docker.sock' in 'spec.template.volumes.hostPath.path'."
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
package builtin.kubernetes.KSV006

import rego.v1

docker_sockets := {"/var/run/docker.sock", "/run/docker.sock"}

deny contains res if {
	some v in data.sightline.lib.k8s.volumes
	trim_right(v.hostPath.path, "/") in docker_sockets
	res := data.sightline.lib.result.new(sprintf("%s should not specify '%s' in 'spec.template.volumes.hostPath.path'", [data.sightline.lib.k8s.subject, v.hostPath.path]), v)
}
