"""Read archive members in Python: ``.whl`` (zip), ``.tgz`` (npm pack) and ``.deb`` (ar + tar)."""

from __future__ import annotations

import fnmatch
import io
import tarfile
import zipfile
from collections.abc import Iterator
from pathlib import Path

from transfer_laws.data.spec import Source


class ExtractError(RuntimeError):
    """An artifact is not an archive of the expected kind."""


def _ar_members(blob: bytes) -> Iterator[tuple[str, bytes]]:
    """Members of a Unix ``ar`` archive (the outer layer of a Debian package)."""
    if blob[:8] != b"!<arch>\n":
        raise ExtractError("not an ar archive (bad magic)")
    i = 8
    while i + 60 <= len(blob):
        header = blob[i : i + 60]
        name = header[:16].decode("ascii").strip().rstrip("/")
        size = int(header[48:58].decode("ascii").strip())
        i += 60
        yield name, blob[i : i + size]
        i += size + (size % 2)


def _tar_members(tf: tarfile.TarFile) -> Iterator[tuple[str, bytes]]:
    for member in tf:
        if member.isfile():
            f = tf.extractfile(member)
            if f is not None:
                yield member.name, f.read()


def iter_archive(path: Path) -> Iterator[tuple[str, bytes]]:
    """Yield ``(member path, content)`` for every regular file of an archive."""
    name = path.name
    if name.endswith(".whl") or name.endswith(".zip"):
        with zipfile.ZipFile(path) as zf:
            for info in zf.infolist():
                if not info.is_dir():
                    yield info.filename, zf.read(info)
    elif name.endswith(".tgz") or name.endswith(".tar.gz"):
        with tarfile.open(path, mode="r:gz") as tf:
            yield from _tar_members(tf)
    elif name.endswith(".deb"):
        members = dict(_ar_members(path.read_bytes()))
        data = [k for k in members if k.startswith("data.tar")]
        if not data:
            raise ExtractError(f"{name}: no data.tar member in the .deb")
        with tarfile.open(fileobj=io.BytesIO(members[data[0]]), mode="r:*") as tf:
            yield from _tar_members(tf)
    else:
        raise ExtractError(f"{name}: unknown archive type (expected .whl, .tgz or .deb)")


def select(path: str, source: Source) -> str | None:
    """The member's path relative to ``source.root`` if the include/exclude globs keep it, else None."""
    if not path.startswith(source.root):
        return None
    rel = path[len(source.root) :]
    if not any(fnmatch.fnmatchcase(rel, g) for g in source.include):
        return None
    if any(fnmatch.fnmatchcase(rel, g) for g in source.exclude):
        return None
    return rel


def iter_selected(artifact: Path, source: Source) -> Iterator[tuple[str, bytes]]:
    """``(relative path, content)`` of the members the source's globs select."""
    for path, content in iter_archive(artifact):
        rel = select(path, source)
        if rel is not None:
            yield rel, content
