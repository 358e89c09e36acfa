# Helpers shared by Sightline's built-in Kubernetes checks: the object's identity, its pod
# spec (wherever the kind keeps it) and every container of it, with the JSON path of each
# so results can point at the offending lines.
package sightline.lib.k8s

import rego.v1

kind := input.kind

name := object.get(input, ["metadata", "name"], "")

# kubectl applies an object without a namespace into "default".
default namespace := "default"

namespace := input.metadata.namespace if is_string(input.metadata.namespace)

template_kinds := {"Deployment", "ReplicaSet", "ReplicationController", "StatefulSet", "DaemonSet", "Job"}

workload_kinds := template_kinds | {"Pod", "CronJob"}

is_workload if kind in workload_kinds

# The pod spec of a workload, and the metadata beside it (annotations of the pod template).
pod_spec := input.spec if kind == "Pod"

pod_spec := input.spec.template.spec if kind in template_kinds

pod_spec := input.spec.jobTemplate.spec.template.spec if kind == "CronJob"

pod_metadata := object.get(input, "metadata", {}) if kind == "Pod"

pod_metadata := object.get(input.spec.template, "metadata", {}) if kind in template_kinds

pod_metadata := object.get(input.spec.jobTemplate.spec.template, "metadata", {}) if kind == "CronJob"

pod_annotations := a if {
	a := object.get(pod_metadata, "annotations", {})
	is_object(a)
} else := {}

# The pod-level security context ({} when unset).
pod_security_context := sc if {
	sc := object.get(pod_spec, "securityContext", {})
	is_object(sc)
} else := {}

_list(obj, key) := array_at(obj, [key])

# The array at `path` under `obj`; [] when missing, null or not an array (manifests often
# carry explicit nulls, e.g. `capabilities: {add: null}`).
array_at(obj, path) := v if {
	v := object.get(obj, path, [])
	is_array(v)
} else := []

# Every container of the pod spec: containers, initContainers and ephemeralContainers.
containers := array.concat(
	array.concat(_list(pod_spec, "containers"), _list(pod_spec, "initContainers")),
	_list(pod_spec, "ephemeralContainers"),
)

# The pod's volumes.
volumes := _list(pod_spec, "volumes")

# A container's security context ({} when unset).
security_context(c) := sc if {
	sc := object.get(c, "securityContext", {})
	is_object(sc)
} else := {}

# Added / dropped capabilities of a container (upper-cased, [] when unset).
added_capabilities(c) := [upper(x) | some x in array_at(c, ["securityContext", "capabilities", "add"]); is_string(x)]

dropped_capabilities(c) := [upper(x) | some x in array_at(c, ["securityContext", "capabilities", "drop"]); is_string(x)]

# The effective value of a securityContext field: the container's, else the pod's (null
# when neither sets it).
effective(c, field) := object.get(security_context(c), field, object.get(pod_security_context, field, null))

# Per-container facts, computed once per object (a rule, so the RVM caches it across the
# checks of one aggregate evaluation; functions are evaluated on every call): the container,
# its security context, upper-cased added/dropped capabilities, the effective runAs* fields
# (container, else pod) and the subject for messages.
container_facts := [f |
	some c in containers
	sc := security_context(c)
	f := {
		"container": c,
		"sc": sc,
		"added": added_capabilities(c),
		"dropped": dropped_capabilities(c),
		"effective": {
			"runAsNonRoot": effective(c, "runAsNonRoot"),
			"runAsUser": effective(c, "runAsUser"),
			"runAsGroup": effective(c, "runAsGroup"),
		},
		"subject": container_subject(c),
	}
]

# "<Kind> '<name>'", for messages.
subject := sprintf("%s '%s'", [kind, name])

container_subject(c) := sprintf("Container '%s' of %s '%s'", [object.get(c, "name", ""), kind, name])

# The image's repository without tag or digest, and its registry host (docker.io when the
# first component is not a host).
image_registry(image) := reg if {
	parts := split(image, "/")
	count(parts) > 1
	first := parts[0]
	_is_host(first)
	reg := first
} else := "docker.io"

_is_host(s) if contains(s, ".")

_is_host(s) if contains(s, ":")

_is_host(s) if s == "localhost"

# The tag of an image reference ("" when none; digests are not tags).
image_tag(image) := tag if {
	no_digest := split(image, "@")[0]
	parts := split(no_digest, "/")
	last := parts[count(parts) - 1]
	contains(last, ":")
	tag := split(last, ":")[1]
} else := ""

image_has_digest(image) if contains(image, "@sha256:")
