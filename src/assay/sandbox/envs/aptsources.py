"""The Debian archives a build uses: this host's apt sources, or a mirror."""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

SUITE = "bookworm"
"""The host's release, whose apt sources builds reuse."""
DEFAULT_MIRROR = "http://deb.debian.org/debian"


@dataclass(frozen=True)
class AptSource:
    """One Debian archive: ``deb <uri> <suite> <components>``."""

    uri: str
    suite: str
    components: tuple[str, ...] = ("main",)

    def line(self) -> str:
        return f"deb {self.uri} {self.suite} {' '.join(self.components)}"


def host_apt_sources(root: Path = Path("/etc/apt")) -> list[AptSource]:
    """The host's Debian archives for ``SUITE`` (from sources.list and sources.list.d)."""
    sources: list[AptSource] = []
    files = [root / "sources.list"]
    parts = root / "sources.list.d"
    if parts.is_dir():
        files += sorted(p for p in parts.iterdir() if p.suffix in (".list", ".sources"))
    for path in files:
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        parse = _parse_deb822 if path.suffix == ".sources" else _parse_one_line
        sources += [s for s in parse(text) if s.suite.split("-")[0] == SUITE]
    return sources


def _parse_one_line(text: str) -> Iterator[AptSource]:
    for raw in text.splitlines():
        line = re.sub(r"\[[^\]]*\]", " ", raw.split("#", 1)[0]).split()
        if len(line) >= 3 and line[0] == "deb":
            yield AptSource(line[1], line[2], tuple(line[3:]) or ("main",))


def _parse_deb822(text: str) -> Iterator[AptSource]:
    for stanza in re.split(r"\n\s*\n", text):
        fields: dict[str, str] = {}
        for raw in stanza.splitlines():
            if raw.startswith("#") or ":" not in raw or raw[:1].isspace():
                continue
            key, _, value = raw.partition(":")
            fields[key.strip().lower()] = value.strip()
        if "deb" not in fields.get("types", "").split():
            continue
        if fields.get("enabled", "yes").lower() == "no":
            continue
        components = tuple(fields.get("components", "main").split())
        for uri in fields.get("uris", "").split():
            for suite in fields.get("suites", "").split():
                yield AptSource(uri, suite, components)


def main_mirror(sources: Sequence[AptSource]) -> str:
    """The archive holding ``SUITE`` itself (not -security or -updates)."""
    for source in sources:
        if source.suite == SUITE:
            return source.uri
    return DEFAULT_MIRROR
