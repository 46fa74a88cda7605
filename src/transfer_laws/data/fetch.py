"""Download pinned artifacts with the ordinary registry clients into a cache, checked by sha256.

Each artifact is downloaded into a temporary folder inside the cache, checked, then renamed
into place: an interrupted or mismatching download leaves nothing behind.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from platformdirs import user_cache_dir

from transfer_laws.data.spec import Source


class FetchError(RuntimeError):
    """A source could not be downloaded, or its checksum does not match."""


def cache_dir(override: str | os.PathLike | None = None) -> Path:
    """The cache root: ``override``, else $TRANSFER_LAWS_CACHE, else the user's cache dir."""
    path = override or os.environ.get("TRANSFER_LAWS_CACHE") or user_cache_dir("transfer_laws")
    return Path(path).expanduser()


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def client_command(source: Source, dest: Path) -> list[str]:
    """The registry-client command line that downloads ``source`` into ``dest``."""
    if source.client == "pip":
        return [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
                "--platform", "any", "--disable-pip-version-check", "-q", "-d", str(dest), source.requirement]
    if source.client == "npm":
        return ["npm", "pack", "--silent", "--pack-destination", str(dest), source.requirement]
    if source.client == "apt":
        return ["apt-get", "download", "-q", source.requirement]
    raise FetchError(f"source {source.name!r}: unknown client {source.client!r}")


def _run_client(source: Source, dest: Path) -> None:
    cmd = client_command(source, dest)
    try:
        proc = subprocess.run(cmd, cwd=dest, capture_output=True, text=True)
    except FileNotFoundError:
        raise FetchError(f"source {source.name!r}: the {source.client} client ({cmd[0]}) is not installed") from None
    if proc.returncode != 0 and source.client == "apt" and "Unable to locate" in proc.stderr + proc.stdout:
        # The package lists may simply be stale or missing on a fresh machine: refresh once.
        subprocess.run(["apt-get", "update", "-qq"], capture_output=True)
        proc = subprocess.run(cmd, cwd=dest, capture_output=True, text=True)
    if proc.returncode != 0:
        detail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
        raise FetchError(
            f"source {source.name!r}: {source.client} could not download {source.requirement} "
            f"(has this exact version vanished from the registry?): {' | '.join(detail)}"
        )


def fetch(source: Source, root: Path, log=print) -> Path:
    """Return the cached, checksum-verified artifact of ``source``, downloading it if needed."""
    artifacts = root / "downloads" / source.name
    final = artifacts / source.sha256
    if final.is_dir():
        files = [p for p in final.iterdir() if p.is_file()]
        if len(files) == 1 and sha256_file(files[0]) == source.sha256:
            log(f"  [{source.name}] cached {files[0].name}")
            return files[0]
        shutil.rmtree(final)  # corrupt cache entry: fetch again
    artifacts.mkdir(parents=True, exist_ok=True)
    log(f"  [{source.name}] downloading {source.requirement} with {source.client}")
    with tempfile.TemporaryDirectory(dir=artifacts, prefix=".tmp-") as tmp:
        tmp = Path(tmp)
        _run_client(source, tmp)
        files = [p for p in tmp.iterdir() if p.is_file()]
        if len(files) != 1:
            raise FetchError(f"source {source.name!r}: expected one artifact, got {[p.name for p in files]}")
        got = sha256_file(files[0])
        if got != source.sha256:
            raise FetchError(
                f"source {source.name!r}: sha256 mismatch for {files[0].name}: "
                f"expected {source.sha256}, got {got}"
            )
        staged = tmp / "staged"
        staged.mkdir()
        files[0].rename(staged / files[0].name)
        staged.rename(final)
    return final / files[0].name
