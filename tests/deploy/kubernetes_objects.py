"""deploy/kubernetes rendered as an operator renders it, and ways into its objects.

``prepare`` copies the tree and writes each overlay's secret env file from the example;
``render`` runs `kubectl kustomize` on an overlay and returns its objects (dicts).
"""

from __future__ import annotations

import copy
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from assay.config import Settings

Obj = dict[str, Any]

REPO = Path(__file__).resolve().parents[2]
KUBERNETES_DIR = REPO / "deploy" / "kubernetes"
SECRET_EXAMPLE = "secret.env.example"
WORKLOADS = ("Deployment", "StatefulSet", "DaemonSet", "Job")


# --- rendering ----------------------------------------------------------------------


def kubectl() -> str:
    """The kubectl whose kustomize renders the overlays (scripts/setup.sh --dev installs
    Debian's kubernetes-client; ASSAY_KUBECTL names another)."""
    found = os.environ.get("ASSAY_KUBECTL") or shutil.which("kubectl")
    if not found:
        pytest.fail("kubectl is missing: scripts/setup.sh --dev installs it (kubernetes-client)")
    return found


def overlays() -> list[str]:
    return sorted(p.parent.name for p in KUBERNETES_DIR.glob("overlays/*/kustomization.yaml"))


def _secret_env_files(kustomization: Path) -> list[str]:
    """The env files a kustomization's secretGenerator reads (the operator writes them)."""
    spec = yaml.safe_load(kustomization.read_text())
    files: list[str] = []
    for generator in spec.get("secretGenerator") or []:
        if generator.get("env"):
            files.append(generator["env"])
        files.extend(generator.get("envs") or [])
    return files


def prepare(workdir: Path) -> Path:
    """A copy of deploy/kubernetes with each overlay's secret env file written from the
    example, as an operator does before `kubectl apply -k`."""
    tree = workdir / "kubernetes"
    shutil.copytree(KUBERNETES_DIR, tree, ignore=shutil.ignore_patterns("secret.env"))
    for kustomization in tree.glob("overlays/*/kustomization.yaml"):
        for name in _secret_env_files(kustomization):
            shutil.copy(tree / SECRET_EXAMPLE, kustomization.parent / name)
    return tree


def render(tree: Path, overlay: str) -> list[Obj]:
    done = subprocess.run(
        [kubectl(), "kustomize", str(tree / "overlays" / overlay)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, f"kubectl kustomize {overlay} failed:\n{done.stderr}"
    return [obj for obj in yaml.safe_load_all(done.stdout) if obj]


# --- ways in --------------------------------------------------------------------------


def name_of(obj: Obj) -> str:
    return f"{obj.get('kind')}/{obj.get('metadata', {}).get('name')}"


def of_kind(objs: list[Obj], *kinds: str) -> list[Obj]:
    return [obj for obj in objs if obj.get("kind") in kinds]


def pod_template(obj: Obj) -> Obj:
    template: Obj = obj["spec"]["template"]
    return template


def pod_labels(obj: Obj) -> dict[str, str]:
    labels: dict[str, str] = pod_template(obj).get("metadata", {}).get("labels", {})
    return labels


def containers(obj: Obj) -> list[Obj]:
    spec = pod_template(obj)["spec"]
    found: list[Obj] = spec.get("initContainers", []) + spec.get("containers", [])
    return found


def component(objs: list[Obj], name: str) -> Obj:
    """The one workload whose pods are app.kubernetes.io/component=``name``."""
    found = [
        w
        for w in of_kind(objs, *WORKLOADS)
        if pod_labels(w).get("app.kubernetes.io/component") == name
    ]
    assert len(found) == 1, f"expected one {name} workload, found {[name_of(w) for w in found]}"
    return found[0]


def by_name(objs: list[Obj], kind: str, name: str) -> Obj | None:
    for obj in of_kind(objs, kind):
        if obj["metadata"]["name"] == name:
            return obj
    return None


def setting_names() -> set[str]:
    return {f"ASSAY_{name.upper()}" for name in Settings.model_fields}


def container_env(objs: list[Obj], container: Obj) -> dict[str, str]:
    """The container's environment as far as the manifests say it: ConfigMaps it takes
    whole, then its own values (a value from a Secret is '<secret>')."""
    env: dict[str, str] = {}
    for source in container.get("envFrom", []):
        ref = source.get("configMapRef")
        config = by_name(objs, "ConfigMap", ref["name"]) if ref else None
        if config is not None:
            env.update(config.get("data", {}))
    for item in container.get("env", []):
        env[item["name"]] = item.get("value", "<secret>" if "valueFrom" in item else "")
    return env


def setting(objs: list[Obj], container: Obj, name: str) -> Any:
    """A setting's value in that container: its environment's, else (none or an invalid
    one) Settings' default."""
    value = container_env(objs, container).get(f"ASSAY_{name.upper()}")
    try:
        return getattr(Settings(**{name: value}), name)
    except ValueError:  # check_settings reports it
        return Settings.model_fields[name].default


def adapter_rules(overlay: str) -> Obj | None:
    path = KUBERNETES_DIR / "overlays" / overlay / "prometheus-adapter-rules.yaml"
    if not path.exists():
        return None
    rules: Obj = yaml.safe_load(path.read_text())
    return rules


def breakable(objs: list[Obj], kind: str, name: str) -> tuple[list[Obj], Obj]:
    """A deep copy of ``objs`` and, in it, the object ``kind``/``name`` to break."""
    copied = copy.deepcopy(objs)
    found = by_name(copied, kind, name)
    assert found is not None, f"no {kind}/{name} to break"
    return copied, found
