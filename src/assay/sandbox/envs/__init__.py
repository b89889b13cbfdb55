"""Environments: root filesystems built from a spec, content-addressed and cached.

``spec`` (the TOML model) -> ``plan`` (its inputs read, its key computed) ->
``store`` (``<key>/rootfs``, built once under a lock) <- ``debian`` (the builder:
mmdebstrap, then apt, pip, files and the setup script inside the tree).
See docs/environments.md.
"""
