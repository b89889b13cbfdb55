"""deploy/kubernetes renders and validates offline (no cluster), as CI checks it.

Each overlay (deploy/kubernetes/overlays/*) is rendered with `kubectl kustomize`, after
its secret env file is written from secret.env.example as an operator does. The
manifests keep to what the kustomize inside kubectl 1.20 (v2.0.3, Debian's
kubernetes-client) reads, and newer kubectl renders them the same. Then:

- every Kubernetes object is validated against the schemas of the newest Kubernetes
  release kubernetes-validate ships (``KUBERNETES_VERSION``), strictly: an unknown
  field is an error, as `kubectl apply --validate=strict` would make it;
- kubernetes-validate has no schemas of custom resources (CRDs), so KEDA's
  ScaledObject and TriggerAuthentication are validated against JSON Schemas of the
  fields we use, written by us from KEDA's documented API (tests/deploy/schemas/),
  their metadata and HPA behavior against Kubernetes' own schemas;
- the consistency a reviewer would check by hand (kubernetes_checks): selectors,
  references, probes, ASSAY_* names and values, images, the worker's drain, the
  ingress, the autoscalers' targets;
- the ScaledObject's queries run against a real PostgreSQL with Assay's schema and
  count what they claim, and the prometheus-adapter rules of the HPA read metrics
  Assay exports.

Each kind of check is also shown to fail on a deliberately broken object.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from assay.services import Platform
from assay.storage.db import Database
from assay.storage.models import Job, JobKind, JobStatus, Lane
from assay.web.metrics import DatabaseCollector
from deploy import kubernetes_checks as checks
from deploy import kubernetes_objects as k8s
from platform_helpers import database_url, settings_for

Objs = list[k8s.Obj]
OVERLAYS = k8s.overlays()


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Objs]:
    tree = k8s.prepare(tmp_path_factory.mktemp("deploy"))
    return {overlay: k8s.render(tree, overlay) for overlay in OVERLAYS}


def test_the_overlays_are_there() -> None:
    assert {"keda", "hpa", "dev"} <= set(OVERLAYS)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_an_overlay_renders_valid_and_consistent(rendered: dict[str, Objs], overlay: str) -> None:
    objs = rendered[overlay]
    found = checks.problems(objs, overlay, k8s.adapter_rules(overlay))
    assert found == []
    kinds = sorted({obj["kind"] for obj in objs})
    print(f"{overlay}: {len(objs)} objects valid (Kubernetes {checks.KUBERNETES_VERSION}): {kinds}")


def test_each_overlay_has_its_parts(rendered: dict[str, Objs]) -> None:
    def kinds(overlay: str) -> set[str]:
        return {obj["kind"] for obj in rendered[overlay]}

    common = {
        "Namespace", "ConfigMap", "Secret", "Deployment", "Service", "Ingress", "Job",
        "PodDisruptionBudget", "NetworkPolicy",
    }  # fmt: skip
    assert common | {"ScaledObject", "TriggerAuthentication"} <= kinds("keda")
    assert common | {"HorizontalPodAutoscaler"} <= kinds("hpa")
    assert common | {"StatefulSet"} <= kinds("dev")
    assert not {"ScaledObject", "HorizontalPodAutoscaler"} & kinds("dev")
    assert "StatefulSet" not in kinds("keda") | kinds("hpa")  # PostgreSQL is external there


def test_kedas_queries_count_the_real_queue(rendered: dict[str, Objs], tmp_path: Path) -> None:
    """The ScaledObject's SQL, run on Assay's migrated schema in PostgreSQL, counts the
    queued and running jobs of its lane and nothing else."""
    queries = checks.keda_queries(rendered["keda"])
    assert queries.keys() == {lane.value for lane in Lane}
    with database_url("postgres", tmp_path) as url:
        db = Database(url)
        try:
            db.migrate()
            expected = {lane.value: 0 for lane in Lane}
            with Session(db.engine) as session, session.begin():
                for i, (lane, status) in enumerate(
                    (lane, status) for lane in Lane for status in JobStatus
                ):
                    for _ in range(i % 3 + 1):
                        session.add(Job(kind=JobKind.GRADE, lane=lane, target_id=i, status=status))
                        if status in (JobStatus.QUEUED, JobStatus.RUNNING):
                            expected[lane.value] += 1
            with db.engine.connect() as connection:
                counted = {
                    lane: connection.execute(sa.text(query)).scalar_one()
                    for lane, query in queries.items()
                }
        finally:
            db.dispose()
    assert counted == expected
    assert all(expected.values())


def test_the_hpa_reads_metrics_assay_exports(tmp_path: Path) -> None:
    """The prometheus-adapter rules' PromQL names metrics (and lanes) /metrics has."""
    rules = k8s.adapter_rules("hpa")
    assert rules is not None
    settings = settings_for(f"sqlite:///{tmp_path / 'assay.db'}", tmp_path)
    platform = Platform.open(settings)
    try:
        families = list(DatabaseCollector(platform).collect())
    finally:
        platform.close()
    exported = {family.name for family in families}
    lanes = {
        sample.labels["lane"]
        for family in families
        if family.name == "assay_queue_depth"
        for sample in family.samples
    }
    read = checks.adapter_metric_names(rules)
    assert read and read <= exported
    for rule in rules["rules"]["external"]:
        for lane in ("interactive", "bulk"):
            if f'lane="{lane}"' in rule["metricsQuery"]:
                assert lane in lanes


def _assay(args: list[str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """Run this checkout's `assay` as a pod would (a fresh state directory, SQLite)."""
    assert args[0] == "assay"
    env = {
        **os.environ,
        "ASSAY_STATE_DIR": str(tmp_path / "state"),
        "ASSAY_DATABASE_URL": f"sqlite:///{tmp_path / 'assay.db'}",
    }
    executable = Path(sys.executable).with_name("assay")
    return subprocess.run(
        [str(executable), *args[1:]],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_commands_the_pods_run_exist(rendered: dict[str, Objs], tmp_path: Path) -> None:
    """The migration job's command migrates, the worker's liveness command answers (1:
    no worker here), the API's command line is accepted (--help)."""
    objs = rendered["keda"]
    (migrate,) = k8s.pod_template(k8s.component(objs, "migrate"))["spec"]["containers"]
    done = _assay(migrate["args"], tmp_path)
    assert done.returncode == 0, done.stderr
    assert "migrated" in done.stdout + done.stderr
    probe = _worker(objs)["livenessProbe"]["exec"]["command"]
    done = _assay(probe, tmp_path)
    assert done.returncode == 1 and "no worker is running here" in done.stdout + done.stderr
    done = _assay([*_api(objs)["args"], "--help"], tmp_path)
    assert done.returncode == 0, done.stderr


def test_the_secret_example_names_one_database() -> None:
    values = dict(
        line.split("=", 1)
        for line in (k8s.KUBERNETES_DIR / k8s.SECRET_EXAMPLE).read_text().splitlines()
        if line and not line.startswith("#")
    )
    assert values.keys() == {"ASSAY_DATABASE_URL", "ASSAY_SECRET_KEY", "KEDA_POSTGRESQL_CONNECTION"}
    assay = urlsplit(values["ASSAY_DATABASE_URL"])
    keda = urlsplit(values["KEDA_POSTGRESQL_CONNECTION"])
    assert assay.scheme == "postgresql+psycopg" and keda.scheme == "postgresql"
    assert (assay.hostname, assay.port, assay.path) == (keda.hostname, keda.port, keda.path)


def test_operators_secret_files_stay_out_of_git() -> None:
    for overlay in ("keda", "hpa"):
        path = k8s.KUBERNETES_DIR / "overlays" / overlay / "secret.env"
        ignored = subprocess.run(
            ["git", "-C", str(k8s.REPO), "check-ignore", "-q", str(path)], check=False
        )
        assert ignored.returncode == 0, f"{path} is not ignored by git"


# --- the checks fail on broken manifests ----------------------------------------------


def _api(objs: Objs) -> k8s.Obj:
    """The API server's container."""
    container: k8s.Obj = _api_pod(objs)["containers"][0]
    return container


def _api_pod(objs: Objs) -> k8s.Obj:
    pod: k8s.Obj = k8s.pod_template(k8s.component(objs, "api"))["spec"]
    return pod


def _worker(objs: Objs) -> k8s.Obj:
    container: k8s.Obj = k8s.pod_template(k8s.component(objs, "worker"))["spec"]["containers"][0]
    return container


def _config(objs: Objs) -> dict[str, str]:
    (config,) = k8s.of_kind(objs, "ConfigMap")
    data: dict[str, str] = config["data"]
    return data


def _keda(objs: Objs) -> k8s.Obj:
    (scaled,) = k8s.of_kind(objs, "ScaledObject")
    spec: k8s.Obj = scaled["spec"]
    return spec


def _trigger(objs: Objs, lane: str) -> k8s.Obj:
    (trigger,) = [t for t in _keda(objs)["triggers"] if t["name"] == lane]
    metadata: k8s.Obj = trigger["metadata"]
    return metadata


def _ingress_notes(objs: Objs) -> dict[str, str]:
    notes: dict[str, str] = k8s.of_kind(objs, "Ingress")[0]["metadata"]["annotations"]
    return notes


def _set(target: k8s.Obj, key: str, value: object) -> None:
    target[key] = value


WRONG_STATUS = (
    "SELECT count(*) FROM jobs WHERE lane = 'interactive' "
    "AND status IN ('queued', 'running', 'waiting')"
)
# Each: how to break the keda overlay's objects, and (part of) the problem then named.
BREAKAGES: dict[str, tuple[Callable[[Objs], None], str]] = {
    "unknown field": (
        lambda o: _set(k8s.component(o, "api")["spec"], "replica", 2),
        "'replica' was unexpected",
    ),
    "wrong type": (
        lambda o: _set(k8s.component(o, "api")["spec"], "replicas", "2"),
        "is not of type 'integer'",
    ),
    "an autoscaled Deployment with replicas": (
        lambda o: _set(k8s.component(o, "worker")["spec"], "replicas", 2),
        "sets replicas, which ScaledObject/assay-worker owns",
    ),
    "misspelt probe field": (
        lambda o: _set(_api(o)["readinessProbe"], "periodSecond", 5),
        "'periodSecond' was unexpected",
    ),
    "KEDA: unknown field": (
        lambda o: _set(_keda(o), "minReplicas", 1),
        "'minReplicas' was unexpected",
    ),
    "KEDA: a number where KEDA takes a string": (
        lambda o: _set(_trigger(o, "interactive"), "targetQueryValue", 8),
        "8 is not of type 'string'",
    ),
    "KEDA: bad HPA behavior": (
        lambda o: _set(
            _keda(o)["advanced"]["horizontalPodAutoscalerConfig"]["behavior"]["scaleDown"],
            "window",
            300,
        ),
        "'window' was unexpected",
    ),
    "Service selects nothing": (
        lambda o: _set(
            k8s.of_kind(o, "Service")[0]["spec"], "selector", {"app.kubernetes.io/component": "apl"}
        ),
        "matches [], not one",
    ),
    "PDB selects both workloads": (
        lambda o: _set(
            k8s.of_kind(o, "PodDisruptionBudget")[0]["spec"]["selector"],
            "matchLabels",
            {"app.kubernetes.io/name": "assay"},
        ),
        "not one",
    ),
    "readiness on the wrong path": (
        lambda o: _set(_api(o)["readinessProbe"]["httpGet"], "path", "/healthz"),
        "readinessProbe: GET /healthz, not /readyz",
    ),
    "probe on an undeclared port": (
        lambda o: _set(_api(o)["livenessProbe"]["httpGet"], "port", 8080),
        "port 8080 is not declared",
    ),
    "misspelt setting": (
        lambda o: _set(_config(o), "ASSAY_WORKER_SLOT", "8"),
        "ASSAY_WORKER_SLOT is not a setting",
    ),
    "invalid setting value": (
        lambda o: _set(_config(o), "ASSAY_WORKER_SLOTS", "eight"),
        "invalid settings",
    ),
    "grace period shorter than the drain": (
        lambda o: _set(_config(o), "ASSAY_WORKER_STOP_TIMEOUT_S", "85"),
        "terminationGracePeriodSeconds 90 < worker drain 85.0 s",
    ),
    "two Assay images": (
        lambda o: _set(_worker(o), "image", "assay-platform:0.0.9"),
        "not one image",
    ),
    "a Secret key nobody wrote": (
        lambda o: _set(_api(o)["env"][2]["valueFrom"]["secretKeyRef"], "key", "DB_URL"),
        "has no key DB_URL",
    ),
    "KEDA counts a status the queue has not": (
        lambda o: _set(_trigger(o, "interactive"), "query", WRONG_STATUS),
        "statuses",
    ),
    "KEDA target is not the worker's slots": (
        lambda o: _set(_trigger(o, "interactive"), "targetQueryValue", "16"),
        "interactive target 16 is not ASSAY_WORKER_SLOTS (8)",
    ),
    "uploads cut by the ingress": (
        lambda o: _set(_ingress_notes(o), "nginx.ingress.kubernetes.io/proxy-body-size", "1m"),
        "proxy-body-size is below ASSAY_MAX_UPLOAD_BYTES",
    ),
    "public URL on another host than the ingress": (
        lambda o: _set(_config(o), "ASSAY_PUBLIC_URL", "https://grading.example.org"),
        "hosts {'assay.example.org'}, ASSAY_PUBLIC_URL https://grading.example.org",
    ),
    "cookies not Secure behind TLS": (
        lambda o: _set(_config(o), "ASSAY_COOKIE_SECURE", "false"),
        "ASSAY_COOKIE_SECURE False disagree",
    ),
    "API server as root": (
        lambda o: _set(_api_pod(o)["securityContext"], "runAsUser", 0),
        "runs as root",
    ),
    "a privileged worker": (
        lambda o: _set(_worker(o)["securityContext"], "privileged", True),
        "privileged (the sandbox needs only its capabilities)",
    ),
    "a worker capability the sandbox does not need": (
        lambda o: _worker(o)["securityContext"]["capabilities"]["add"].append("NET_ADMIN"),
        "capabilities ['NET_ADMIN'] beyond the sandbox's needs",
    ),
    "a released worker without its seccomp profile": (
        lambda o: _set(_worker(o)["securityContext"], "seccompProfile", {"type": "Unconfined"}),
        "seccomp Unconfined, not the worker's profile",
    ),
    "a worker that may reach the web": (
        lambda o: k8s.by_name(o, "NetworkPolicy", "assay-worker")["spec"]["egress"].append(
            {"ports": [{"protocol": "TCP", "port": 443}]}
        ),
        "workers may reach [('TCP', 443)]",
    ),
    "a service account token in a pod": (
        lambda o: _set(_api_pod(o), "automountServiceAccountToken", True),
        "mounts a service account token",
    ),
}


@pytest.mark.parametrize("breakage", BREAKAGES)
def test_a_broken_manifest_is_caught(rendered: dict[str, Objs], breakage: str) -> None:
    objs, _ = k8s.breakable(rendered["keda"], "Namespace", "assay")
    mutate, expected = BREAKAGES[breakage]
    mutate(objs)
    found = checks.problems(objs, "keda")
    assert any(expected in problem for problem in found), found
