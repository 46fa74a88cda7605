"""The declarative list of corpus sources (``sources.toml``), parsed into frozen records."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

CLIENTS = ("pip", "npm", "apt")
CORPORA = ("text", "code", "python")
READERS = ("file", "brown", "lines")


class SpecError(ValueError):
    """The sources spec is malformed."""


@dataclass(frozen=True)
class Source:
    name: str
    client: str  # pip | npm | apt
    package: str
    version: str  # exact pin
    sha256: str  # of the downloaded artifact
    license: str
    root: str  # archive prefix stripped from member paths
    include: tuple[str, ...]
    exclude: tuple[str, ...]
    corpus: str  # text | code | python
    language: str = ""  # code only
    reader: str = "file"

    @property
    def requirement(self) -> str:
        """What the registry client is asked for."""
        if self.client == "pip":
            return f"{self.package}=={self.version}"
        if self.client == "npm":
            return f"{self.package}@{self.version}"
        return f"{self.package}={self.version}"


def default_spec_path() -> Path:
    return Path(str(resources.files("transfer_laws.data") / "sources.toml"))


def load_sources(path: Path | None = None) -> list[Source]:
    """Parse and validate a sources spec; raise ``SpecError`` naming the problem."""
    path = Path(path) if path is not None else default_spec_path()
    try:
        raw = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise SpecError(f"{path}: malformed TOML: {exc}") from None
    entries = raw.get("source")
    if not isinstance(entries, list) or not entries:
        raise SpecError(f"{path}: no [[source]] entries")
    sources, seen = [], set()
    required = ("name", "client", "package", "version", "sha256", "license", "include", "corpus")
    for i, entry in enumerate(entries):
        missing = [k for k in required if k not in entry]
        if missing:
            raise SpecError(f"{path}: source #{i + 1} lacks {', '.join(missing)}")
        name = entry["name"]
        if name in seen:
            raise SpecError(f"{path}: duplicate source name {name!r}")
        seen.add(name)
        if entry["client"] not in CLIENTS:
            raise SpecError(f"source {name!r}: unknown client {entry['client']!r} (expected {CLIENTS})")
        if entry["corpus"] not in CORPORA:
            raise SpecError(f"source {name!r}: unknown corpus {entry['corpus']!r} (expected {CORPORA})")
        if not re.fullmatch(r"[0-9a-f]{64}", entry["sha256"]):
            raise SpecError(f"source {name!r}: sha256 must be 64 lowercase hex digits")
        if re.search(r"[<>=~^*]|\s", entry["version"]):
            raise SpecError(f"source {name!r}: version {entry['version']!r} is not an exact pin")
        reader = entry.get("reader", "file")
        if reader not in READERS:
            raise SpecError(f"source {name!r}: unknown reader {reader!r} (expected {READERS})")
        if entry["corpus"] == "code" and not entry.get("language"):
            raise SpecError(f"source {name!r}: a code source needs a language")
        sources.append(
            Source(
                name=name,
                client=entry["client"],
                package=entry["package"],
                version=entry["version"],
                sha256=entry["sha256"],
                license=entry["license"],
                root=entry.get("root", ""),
                include=tuple(entry["include"]),
                exclude=tuple(entry.get("exclude", ())),
                corpus=entry["corpus"],
                language=entry.get("language", ""),
                reader=reader,
            )
        )
    return sources
