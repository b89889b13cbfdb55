"""Environments: root filesystems built from a spec, content-addressed and cached.

``spec`` (the TOML model) -> ``plan`` (its inputs read, its key computed) ->
``store`` (``<key>/rootfs``, built once under a lock) <- ``debian`` (the builder:
mmdebstrap, then apt, pip, files and the setup script inside the tree).
See docs/environments.md.

Why inside ``assay.sandbox``: a sandbox backend must turn an environment into a
root filesystem path (the store's lookup) and needs its runtime settings (the
spec's variables, probe and limits, which are ``sandbox.spec.Limits``), and the
layers below the sandbox (``files``, ``errors``, ``config``) know nothing of
running programs. The builder sits beside the store because it is the store's
only producer and runs host tools as root (the only builder of trees: the Docker
backend imports these trees as its images); nothing in here imports a backend,
and the Docker backend takes the sandbox user, the workspace and the platform
packages from ``envs.platform``.
"""
