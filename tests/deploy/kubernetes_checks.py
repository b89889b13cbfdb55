"""The checks deploy/kubernetes's rendered objects must pass.

Each check takes the rendered objects of one overlay (kubernetes_objects.render) and
returns its problems (an empty list: none), so a test can feed it a deliberately
broken object and see the problem named. ``problems`` runs them all.
"""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path
from urllib.parse import urlsplit

import jsonschema
import kubernetes_validate

from assay import __version__
from assay.config import Settings
from assay.storage.models import Job, JobStatus, Lane
from deploy.kubernetes_objects import (
    WORKLOADS,
    Obj,
    by_name,
    component,
    containers,
    name_of,
    of_kind,
    pod_labels,
    pod_template,
    setting,
    setting_names,
)

SCHEMAS = Path(__file__).with_name("schemas")
# The newest Kubernetes release whose schemas kubernetes-validate ships.
KUBERNETES_VERSION = kubernetes_validate.latest_version()
ASSAY_IMAGE = "assay-platform"
CLUSTER_SCOPED = ("Namespace",)
# Our schemas of the custom resources kubernetes-validate has none of (it has only
# Kubernetes' own kinds).
CRD_SCHEMAS = {
    ("keda.sh/v1alpha1", "ScaledObject"): "keda-scaledobject-v1alpha1.json",
    ("keda.sh/v1alpha1", "TriggerAuthentication"): "keda-triggerauthentication-v1alpha1.json",
}
# KEDA's postgresql scaler: the parameters a TriggerAuthentication may give it.
POSTGRESQL_AUTH_PARAMETERS = {"connection", "host", "port", "userName", "password", "dbName"}
# A worker sent SIGTERM hands its jobs back after ASSAY_WORKER_STOP_TIMEOUT_S; Kubernetes'
# SIGKILL must come at least this much later.
HANDBACK_MARGIN_S = 10
# What the native sandbox needs in the worker container (measured: `assay sandbox check`
# passes with exactly these; docs/deploy.md).
WORKER_CAPABILITIES = {
    "SYS_ADMIN", "SYS_CHROOT", "SETUID", "SETGID", "KILL", "SYS_NICE", "CHOWN",
    "DAC_OVERRIDE", "FOWNER",
}  # fmt: skip
# Where a worker may connect: DNS and PostgreSQL.
WORKER_EGRESS = {("UDP", 53), ("TCP", 53), ("TCP", 5432)}
HEALTH_PATHS = {
    "readinessProbe": "/readyz",
    "livenessProbe": "/healthz",
    "startupProbe": "/healthz",
}


def _size_bytes(text: str) -> int:
    """nginx's size syntax (20m, 512k, 1g, 1048576)."""
    match = re.fullmatch(r"(\d+)([kKmMgG]?)", text.strip())
    assert match, f"not an nginx size: {text!r}"
    unit = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3}[match.group(2).lower()]
    return int(match.group(1)) * unit


@cache
def _schema(filename: str) -> Obj:
    schema: Obj = json.loads((SCHEMAS / filename).read_text())
    return schema


def _validate_k8s(obj: Obj) -> str | None:
    # kubernetes-validate reads Kubernetes' schemas afresh for every object: the broken
    # copies of an overlay are mostly unchanged objects, validated once.
    return _validate_k8s_json(json.dumps(obj, sort_keys=True))


@cache
def _validate_k8s_json(text: str) -> str | None:
    obj = json.loads(text)
    try:
        kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)
    except kubernetes_validate.ValidationError as exc:
        where = "/".join(str(p) for p in exc.path)
        return f"{name_of(obj)}: {where}: {exc.message}"
    except kubernetes_validate.SchemaNotFoundError as exc:
        return f"{name_of(obj)}: {exc.message}"
    return None


# --- the checks ---------------------------------------------------------------------


def validate_builtin(objs: list[Obj]) -> list[str]:
    """Kubernetes' own kinds against the schemas of KUBERNETES_VERSION, strictly
    (an unknown field is an error); a kind of neither Kubernetes nor CRD_SCHEMAS is one."""
    problems: list[str] = []
    for obj in objs:
        if (obj.get("apiVersion"), obj.get("kind")) in CRD_SCHEMAS:
            continue
        problem = _validate_k8s(obj)
        if problem:
            problems.append(problem)
    return problems


def validate_custom(objs: list[Obj]) -> list[str]:
    """KEDA's kinds against our schemas; their metadata against Kubernetes' ObjectMeta
    and a ScaledObject's HPA behavior against autoscaling/v2's."""
    problems: list[str] = []
    for obj in objs:
        schema_file = CRD_SCHEMAS.get((obj.get("apiVersion"), obj.get("kind")))
        if schema_file is None:
            continue
        validator = jsonschema.Draft202012Validator(_schema(schema_file))
        for error in sorted(validator.iter_errors(obj), key=lambda e: list(e.path)):
            where = "/".join(str(p) for p in error.path)
            problems.append(f"{name_of(obj)}: {where}: {error.message}")
        wrapped = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": obj.get("metadata", {})}
        if problem := _validate_k8s(wrapped):
            problems.append(f"{name_of(obj)} metadata: {problem}")
        config = obj.get("spec", {}).get("advanced", {}).get("horizontalPodAutoscalerConfig", {})
        if "behavior" in config:
            hpa = {
                "apiVersion": "autoscaling/v2",
                "kind": "HorizontalPodAutoscaler",
                "metadata": {"name": "behavior"},
                "spec": {
                    "scaleTargetRef": {"kind": "Deployment", "name": "x"},
                    "maxReplicas": 1,
                    "behavior": config["behavior"],
                },
            }
            if problem := _validate_k8s(hpa):
                problems.append(f"{name_of(obj)} advanced.horizontalPodAutoscalerConfig: {problem}")
    return problems


def check_namespaces(objs: list[Obj]) -> list[str]:
    names = {ns["metadata"]["name"] for ns in of_kind(objs, "Namespace")}
    problems = [] if len(names) == 1 else [f"expected one Namespace, found {sorted(names)}"]
    for obj in objs:
        if obj["kind"] in CLUSTER_SCOPED:
            continue
        namespace = obj["metadata"].get("namespace")
        if namespace not in names:
            problems.append(f"{name_of(obj)}: namespace {namespace!r} is not {sorted(names)}")
    return problems


def check_selectors(objs: list[Obj]) -> list[str]:
    """Each workload selects its own pods; each Service, PodDisruptionBudget and
    NetworkPolicy selects the pods of exactly one workload; each autoscaler targets
    an existing Deployment."""
    problems: list[str] = []
    workloads = of_kind(objs, *WORKLOADS)

    def selected(selector: dict[str, str]) -> list[Obj]:
        return [w for w in workloads if selector.items() <= pod_labels(w).items()]

    for workload in of_kind(objs, "Deployment", "StatefulSet", "DaemonSet"):
        selector = workload["spec"]["selector"].get("matchLabels", {})
        if not selector or not selector.items() <= pod_labels(workload).items():
            problems.append(f"{name_of(workload)}: selector {selector} misses its pod labels")
    selectors: list[tuple[Obj, dict[str, str]]] = []
    for service in of_kind(objs, "Service"):
        selectors.append((service, service["spec"].get("selector", {})))
    for budget in of_kind(objs, "PodDisruptionBudget"):
        selectors.append((budget, budget["spec"]["selector"].get("matchLabels", {})))
    for policy in of_kind(objs, "NetworkPolicy"):
        selectors.append((policy, policy["spec"]["podSelector"].get("matchLabels", {})))
    for obj, selector in selectors:
        matched = selected(selector)
        if len(matched) != 1 or not selector:
            found = [name_of(w) for w in matched]
            problems.append(f"{name_of(obj)}: selector {selector} matches {found}, not one")
    for obj in of_kind(objs, "HorizontalPodAutoscaler", "ScaledObject"):
        ref = obj["spec"]["scaleTargetRef"]
        if ref.get("kind", "Deployment") != "Deployment" or not by_name(
            objs, "Deployment", ref["name"]
        ):
            problems.append(f"{name_of(obj)}: scaleTargetRef {ref} is no Deployment here")
    budgeted = {
        id(w) for obj, sel in selectors if obj["kind"] == "PodDisruptionBudget" and sel
        for w in selected(sel)
    }  # fmt: skip
    for deployment in of_kind(objs, "Deployment"):
        if id(deployment) not in budgeted:
            problems.append(f"{name_of(deployment)}: no PodDisruptionBudget")
    return problems


def check_references(objs: list[Obj]) -> list[str]:
    """Secrets, ConfigMaps and their keys that pods and KEDA name exist; Services'
    target ports are their pods' ports; the Ingress's backend exists."""
    problems: list[str] = []
    for workload in of_kind(objs, *WORKLOADS):
        for container in containers(workload):
            ports = {p.get("name") for p in container.get("ports", [])}
            for item in container.get("env", []):
                for kind, key in (("Secret", "secretKeyRef"), ("ConfigMap", "configMapKeyRef")):
                    ref = item.get("valueFrom", {}).get(key)
                    if ref is None:
                        continue
                    target = by_name(objs, kind, ref["name"])
                    data = (target or {}).get("data", {})
                    if ref["key"] not in data:
                        problems.append(
                            f"{name_of(workload)} env {item['name']}: {kind} "
                            f"{ref['name']} has no key {ref['key']}"
                        )
            for source in container.get("envFrom", []):
                ref = source.get("configMapRef") or source.get("secretRef")
                kind = "ConfigMap" if "configMapRef" in source else "Secret"
                if by_name(objs, kind, ref["name"]) is None:
                    problems.append(f"{name_of(workload)} envFrom: no {kind} {ref['name']}")
            for probe in ("readinessProbe", "livenessProbe", "startupProbe"):
                port = container.get(probe, {}).get("httpGet", {}).get("port")
                numbers = {p["containerPort"] for p in container.get("ports", [])}
                if port is not None and port not in ports | numbers:
                    problems.append(f"{name_of(workload)} {probe}: port {port} is not declared")
    for service in of_kind(objs, "Service"):
        pods = [
            w
            for w in of_kind(objs, *WORKLOADS)
            if service["spec"].get("selector", {}).items() <= pod_labels(w).items()
        ]
        declared = {
            p.get(field) for w in pods for c in containers(w) for p in c.get("ports", [])
            for field in ("name", "containerPort")
        }  # fmt: skip
        for port in service["spec"]["ports"]:
            if port.get("targetPort", port["port"]) not in declared:
                problems.append(f"{name_of(service)}: targetPort {port.get('targetPort')} unknown")
    for ingress in of_kind(objs, "Ingress"):
        for rule in ingress["spec"]["rules"]:
            for path in rule["http"]["paths"]:
                backend = path["backend"]["service"]
                service = by_name(objs, "Service", backend["name"])
                names = {p.get("name") for p in (service or {}).get("spec", {}).get("ports", [])}
                if service is None or backend["port"].get("name") not in names:
                    problems.append(f"{name_of(ingress)}: backend {backend} is not a Service port")
    for auth in of_kind(objs, "TriggerAuthentication"):
        for ref in auth["spec"].get("secretTargetRef", []):
            secret = by_name(objs, "Secret", ref["name"])
            if ref["key"] not in (secret or {}).get("data", {}):
                problems.append(f"{name_of(auth)}: Secret {ref['name']} has no key {ref['key']}")
    return problems


def check_settings(objs: list[Obj]) -> list[str]:
    """Every ASSAY_* name given to a container, or kept in a ConfigMap or Secret, is a
    field of Settings, and the ConfigMaps' values are valid for it."""
    known = setting_names()
    problems: list[str] = []
    for config in of_kind(objs, "ConfigMap", "Secret"):
        for key in config.get("data", {}):
            if key.startswith("ASSAY_") and key not in known:
                problems.append(f"{name_of(config)}: {key} is not a setting")
            if config["kind"] == "ConfigMap" and not key.startswith("ASSAY_"):
                problems.append(f"{name_of(config)}: {key} is not an ASSAY_ setting")
        if config["kind"] == "ConfigMap":
            values = {
                key.removeprefix("ASSAY_").lower(): value
                for key, value in config.get("data", {}).items()
                if key in known
            }
            try:
                Settings(**values)
            except ValueError as exc:
                problems.append(f"{name_of(config)}: invalid settings: {exc}")
    for workload in of_kind(objs, *WORKLOADS):
        for container in containers(workload):
            for item in container.get("env", []):
                if item["name"].startswith("ASSAY_") and item["name"] not in known:
                    problems.append(f"{name_of(workload)}: env {item['name']} is not a setting")
    return problems


def _assay_image(image: str) -> bool:
    return image.rsplit("/", 1)[-1].split(":", 1)[0] == ASSAY_IMAGE


def check_images(objs: list[Obj], *, release: bool) -> list[str]:
    """One Assay image (name and tag) for every Assay container; every image tagged;
    ``release``: the tag is this version of Assay."""
    problems: list[str] = []
    assay_images: set[str] = set()
    for workload in of_kind(objs, *WORKLOADS):
        for container in containers(workload):
            image: str = container["image"]
            tagged = ":" in image.rsplit("/", 1)[-1]
            if not tagged:
                problems.append(f"{name_of(workload)}: image {image} has no tag")
            if _assay_image(image):
                assay_images.add(image)
    if len(assay_images) != 1:
        problems.append(f"Assay's containers use {sorted(assay_images)}, not one image")
    for image in assay_images:
        if release and not image.endswith(f":{__version__}"):
            problems.append(f"{image}: a release overlay runs this release ({__version__})")
    return problems


def check_roles(objs: list[Obj]) -> list[str]:
    """The API runs `assay serve --workers 0` with its health endpoints as probes on its
    port; the worker runs `assay worker`, checked by `assay worker --check`, and its
    grace period outlasts its drain."""
    problems: list[str] = []
    api = component(objs, "api")
    (server,) = pod_template(api)["spec"]["containers"]
    command = " ".join(server.get("command", []) + server.get("args", []))
    if "assay serve --workers 0" not in command:
        problems.append(f"{name_of(api)} runs {command!r}, not `assay serve --workers 0`")
    port = setting(objs, server, "port")
    named = {p.get("name"): p["containerPort"] for p in server.get("ports", [])}
    for probe, path in HEALTH_PATHS.items():
        get = server.get(probe, {}).get("httpGet")
        if get is None:
            problems.append(f"{name_of(api)}: no {probe} (GET {path})")
            continue
        if get.get("path") != path:
            problems.append(f"{name_of(api)} {probe}: GET {get.get('path')}, not {path}")
        if named.get(get["port"], get["port"]) != port:
            problems.append(f"{name_of(api)} {probe}: port {get['port']} is not ASSAY_PORT {port}")
    worker = component(objs, "worker")
    (grader,) = pod_template(worker)["spec"]["containers"]
    command = " ".join(grader.get("command", []) + grader.get("args", []))
    if command not in ("worker", "assay worker") and not command.startswith("assay worker "):
        problems.append(f"{name_of(worker)} runs {command!r}, not `assay worker`")
    liveness = grader.get("livenessProbe", {}).get("exec", {}).get("command")
    if liveness != ["assay", "worker", "--check"]:
        problems.append(f"{name_of(worker)} livenessProbe: {liveness}, not assay worker --check")
    drain = setting(objs, grader, "worker_stop_timeout_s")
    grace = pod_template(worker)["spec"].get("terminationGracePeriodSeconds", 30)
    if grace < drain + HANDBACK_MARGIN_S:
        problems.append(
            f"{name_of(worker)}: terminationGracePeriodSeconds {grace} < worker drain "
            f"{drain} s + {HANDBACK_MARGIN_S} s to hand jobs back"
        )
    return problems


def check_pods(objs: list[Obj], *, release: bool) -> list[str]:
    """Every pod: no host namespaces or host paths, no service account token, resources
    requested and memory limited; every container but the worker's (root: the native
    sandbox) non-root with a read-only root and no capabilities; the worker's no more
    than the sandbox needs."""
    problems: list[str] = []
    for workload in of_kind(objs, *WORKLOADS):
        spec = pod_template(workload)["spec"]
        for field in ("hostNetwork", "hostPID", "hostIPC"):
            if spec.get(field):
                problems.append(f"{name_of(workload)}: {field}")
        if any("hostPath" in volume for volume in spec.get("volumes", [])):
            problems.append(f"{name_of(workload)}: a hostPath volume")
        if spec.get("automountServiceAccountToken") is not False:
            problems.append(f"{name_of(workload)}: mounts a service account token")
        is_worker = pod_labels(workload).get("app.kubernetes.io/component") == "worker"
        for container in containers(workload):
            where = f"{name_of(workload)} {container['name']}"
            resources = container.get("resources", {})
            requests = resources.get("requests", {})
            if not {"cpu", "memory"} <= requests.keys() or "memory" not in resources.get(
                "limits", {}
            ):
                problems.append(f"{where}: cpu and memory requests and a memory limit wanted")
            if is_worker:
                problems.extend(_worker_privileges(where, container, release=release))
                continue
            context = {**spec.get("securityContext", {}), **container.get("securityContext", {})}
            if context.get("runAsNonRoot") is not True or context.get("runAsUser", 1) == 0:
                problems.append(f"{where}: runs as root")
            if context.get("allowPrivilegeEscalation") is not False or context.get("privileged"):
                problems.append(f"{where}: may gain privileges")
            if context.get("capabilities", {}).get("drop") != ["ALL"]:
                problems.append(f"{where}: keeps capabilities")
            if workload["kind"] != "StatefulSet" and not context.get("readOnlyRootFilesystem"):
                problems.append(f"{where}: a writable root filesystem")
    return problems


def _worker_privileges(where: str, container: Obj, *, release: bool) -> list[str]:
    """Root with WORKER_CAPABILITIES at most, not privileged, a read-only root, and (a
    release) the node's seccomp profile for it rather than none."""
    problems: list[str] = []
    context = container.get("securityContext", {})
    capabilities = context.get("capabilities", {})
    if context.get("privileged") is not False:
        problems.append(f"{where}: privileged (the sandbox needs only its capabilities)")
    if capabilities.get("drop") != ["ALL"]:
        problems.append(f"{where}: keeps the runtime's default capabilities")
    extra = set(capabilities.get("add", [])) - WORKER_CAPABILITIES
    if extra:
        problems.append(f"{where}: capabilities {sorted(extra)} beyond the sandbox's needs")
    if not context.get("readOnlyRootFilesystem"):
        problems.append(f"{where}: a writable root filesystem")
    seccomp = context.get("seccompProfile", {}).get("type")
    if release and seccomp != "Localhost":
        problems.append(f"{where}: seccomp {seccomp}, not the worker's profile (Localhost)")
    return problems


def check_network(objs: list[Obj]) -> list[str]:
    """Workers accept no connection and reach only DNS and PostgreSQL."""
    problems: list[str] = []
    worker = pod_labels(component(objs, "worker"))
    policies = [
        p
        for p in of_kind(objs, "NetworkPolicy")
        if p["spec"]["podSelector"].get("matchLabels", {}).items() <= worker.items()
    ]
    if not policies:
        problems.append("no NetworkPolicy for the workers")
    for policy in policies:
        spec = policy["spec"]
        if set(spec.get("policyTypes", [])) != {"Ingress", "Egress"} or spec.get("ingress"):
            problems.append(f"{name_of(policy)}: workers must accept nothing and be limited out")
        for rule in spec.get("egress", []):
            ports = {(p.get("protocol", "TCP"), p.get("port")) for p in rule.get("ports", [])}
            if not ports or not ports <= WORKER_EGRESS:
                problems.append(f"{name_of(policy)}: workers may reach {sorted(ports)}")
    return problems


def check_ingress(objs: list[Obj]) -> list[str]:
    """ingress-nginx serves ASSAY_PUBLIC_URL (its host; TLS with https, and then Secure
    cookies), passes the largest upload, does not buffer live progress and keeps an
    idle stream open longer than the server's keep-alive interval."""
    problems: list[str] = []
    (server,) = pod_template(component(objs, "api"))["spec"]["containers"]
    for ingress in of_kind(objs, "Ingress"):
        notes = ingress["metadata"].get("annotations", {})
        prefix = "nginx.ingress.kubernetes.io/"
        body = _size_bytes(notes.get(prefix + "proxy-body-size", "1m"))
        if body < setting(objs, server, "max_upload_bytes"):
            problems.append(f"{name_of(ingress)}: proxy-body-size is below ASSAY_MAX_UPLOAD_BYTES")
        if notes.get(prefix + "proxy-buffering") != "off":
            problems.append(f"{name_of(ingress)}: proxy-buffering is not off (live progress)")
        public = urlsplit(setting(objs, server, "public_url"))
        hosts = {rule.get("host") for rule in ingress["spec"]["rules"]}
        if hosts != {public.hostname}:
            where = f"{name_of(ingress)}: hosts {hosts}"
            problems.append(f"{where}, ASSAY_PUBLIC_URL {public.geturl()}")
        https = bool(ingress["spec"].get("tls"))
        if (public.scheme == "https") != https or setting(objs, server, "cookie_secure") != https:
            problems.append(
                f"{name_of(ingress)}: TLS {https}, ASSAY_PUBLIC_URL {public.geturl()} and "
                f"ASSAY_COOKIE_SECURE {setting(objs, server, 'cookie_secure')} disagree"
            )
        ping = setting(objs, server, "events_ping_s")
        for timeout in ("proxy-read-timeout", "proxy-send-timeout"):
            if float(notes.get(prefix + timeout, "60")) <= 2 * ping:
                problems.append(f"{name_of(ingress)}: {timeout} cuts idle live-progress streams")
    return problems


_QUERY = re.compile(
    r"^SELECT count\(\*\) FROM (?P<table>\w+) WHERE lane = '(?P<lane>\w+)' "
    r"AND status IN \((?P<statuses>'\w+'(?:, '\w+')*)\)$"
)


_QUERY = re.compile(
    r"^SELECT count\(\*\) FROM (?P<table>\w+) WHERE lane = '(?P<lane>\w+)' "
    r"AND status IN \((?P<statuses>'\w+'(?:, '\w+')*)\)$"
)


def keda_queries(objs: list[Obj]) -> dict[str, str]:
    """The postgresql triggers' queries by lane (the ScaledObjects')."""
    queries: dict[str, str] = {}
    for scaled in of_kind(objs, "ScaledObject"):
        for trigger in scaled["spec"]["triggers"]:
            match = _QUERY.match(trigger["metadata"].get("query", ""))
            if trigger["type"] == "postgresql" and match:
                queries[match.group("lane")] = trigger["metadata"]["query"]
    return queries


def check_autoscaling(objs: list[Obj], adapter_rules: Obj | None = None) -> list[str]:
    """A ScaledObject counts the jobs of each lane in the queue's real table, statuses
    and lanes, and wants a worker pod per ASSAY_WORKER_SLOTS interactive jobs; an HPA's
    External metrics are defined by the prometheus-adapter rules beside it, with the
    same targets."""
    problems: list[str] = []
    worker = component(objs, "worker")
    slots = setting(objs, pod_template(worker)["spec"]["containers"][0], "worker_slots")
    lanes = {lane.value for lane in Lane}
    statuses = {status.value for status in JobStatus}
    for scaled in of_kind(objs, "ScaledObject"):
        seen: dict[str, str] = {}
        spec = scaled["spec"]
        if spec.get("minReplicaCount", 0) > spec.get("maxReplicaCount", 100):
            problems.append(f"{name_of(scaled)}: minReplicaCount > maxReplicaCount")
        for trigger in spec["triggers"]:
            query = trigger["metadata"].get("query", "")
            match = _QUERY.match(query)
            if trigger["type"] != "postgresql" or not match:
                problems.append(f"{name_of(scaled)}: not a per-lane queue count: {query!r}")
                continue
            used = set(re.findall(r"'(\w+)'", match.group("statuses")))
            if match.group("table") != Job.__tablename__ or match.group("lane") not in lanes:
                problems.append(f"{name_of(scaled)}: {query!r} reads no lane of the queue")
            if not used <= statuses or not {"queued", "running"} <= used:
                problems.append(f"{name_of(scaled)}: {query!r}: statuses {used} of {statuses}")
            seen[match.group("lane")] = trigger["metadata"]["targetQueryValue"]
            auth = trigger.get("authenticationRef", {}).get("name")
            ref = by_name(objs, "TriggerAuthentication", auth) if auth else None
            given = (ref or {}).get("spec", {}).get("secretTargetRef", [])
            params = {r["parameter"] for r in given}
            if ref is None or not params or not params <= POSTGRESQL_AUTH_PARAMETERS:
                problems.append(f"{name_of(scaled)}: authenticationRef {auth} gives {params}")
        if seen.keys() != lanes:
            problems.append(f"{name_of(scaled)}: lanes {sorted(seen)}, not {sorted(lanes)}")
        if seen.get("interactive") not in (str(slots), f"{slots}.0"):
            problems.append(
                f"{name_of(scaled)}: interactive target {seen.get('interactive')} "
                f"is not ASSAY_WORKER_SLOTS ({slots})"
            )
    for scaler in of_kind(objs, "ScaledObject", "HorizontalPodAutoscaler"):
        target = by_name(objs, "Deployment", scaler["spec"]["scaleTargetRef"]["name"])
        if target is not None and "replicas" in target["spec"]:
            problems.append(
                f"{name_of(target)}: sets replicas, which {name_of(scaler)} owns "
                "(every apply would reset them)"
            )
    for hpa in of_kind(objs, "HorizontalPodAutoscaler"):
        defined = {
            rule["name"]["as"]: rule["metricsQuery"]
            for rule in (adapter_rules or {}).get("rules", {}).get("external", [])
        }
        for metric in hpa["spec"]["metrics"]:
            name = metric.get("external", {}).get("metric", {}).get("name")
            if metric["type"] != "External" or name not in defined:
                problems.append(f"{name_of(hpa)}: metric {name} is not a prometheus-adapter rule")
        targets = {
            m["external"]["metric"]["name"]: m["external"]["target"].get("averageValue")
            for m in hpa["spec"]["metrics"]
            if m["type"] == "External"
        }
        if targets.get("assay_interactive_demand") != str(slots):
            problems.append(f"{name_of(hpa)}: interactive target is not ASSAY_WORKER_SLOTS")
    return problems


def adapter_metric_names(adapter_rules: Obj) -> set[str]:
    """The Prometheus metric names the prometheus-adapter rules' queries read."""
    names: set[str] = set()
    for rule in adapter_rules.get("rules", {}).get("external", []):
        names.update(re.findall(r"\b(assay_\w+)\{", rule["metricsQuery"]))
    return names


def problems(objs: list[Obj], overlay: str, adapter_rules: Obj | None = None) -> list[str]:
    """Every check above on one overlay's objects."""
    return [
        *validate_builtin(objs),
        *validate_custom(objs),
        *check_namespaces(objs),
        *check_selectors(objs),
        *check_references(objs),
        *check_settings(objs),
        *check_images(objs, release=overlay != "dev"),
        *check_roles(objs),
        *check_pods(objs, release=overlay != "dev"),
        *check_network(objs),
        *check_ingress(objs),
        *check_autoscaling(objs, adapter_rules),
    ]
