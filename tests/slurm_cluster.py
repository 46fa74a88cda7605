"""A single-node SLURM cluster for the slow SLURM test, from Debian's slurmctld, slurmd and munge
(installed with apt-get when missing, as `make browser-deps` installs chromium), configured as
../shared/TOOLCHAIN.md records. The daemons are stopped by their process ids."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

PACKAGES = ("slurmd", "slurmctld", "munge")


def _root_prefix() -> list[str]:
    return [] if os.geteuid() == 0 else ["sudo"]


def ensure_installed() -> None:
    if all(shutil.which(b) for b in ("slurmctld", "slurmd", "munged", "sbatch")):
        return
    apt = _root_prefix() + ["apt-get", "install", "-y", "-q", *PACKAGES]
    if subprocess.run(apt, capture_output=True).returncode != 0:
        subprocess.run(_root_prefix() + ["apt-get", "update", "-q"], capture_output=True, check=True)
        subprocess.run(apt, capture_output=True, check=True)


def _pid(path: Path, timeout_s: float = 20.0) -> int:
    end = time.time() + timeout_s
    while time.time() < end:
        if path.exists() and path.read_text().strip():
            return int(path.read_text().strip())
        time.sleep(0.2)
    raise RuntimeError(f"no pid file {path} after {timeout_s:.0f} s")


class Cluster:
    """Start munged (if not running), slurmctld and slurmd with a configuration in ``tmp``; the
    clients find it through ``SLURM_CONF`` (set in ``env``)."""

    def __init__(self, tmp: Path):
        self.tmp = Path(tmp)
        self.pids: list[int] = []
        self.env = {**os.environ, "SLURM_CONF": str(self.tmp / "slurm.conf")}

    def _munge(self) -> None:
        if subprocess.run(["pgrep", "-x", "munged"], capture_output=True).returncode == 0:
            return
        key = Path("/etc/munge/munge.key")
        for d in ("/run/munge", "/var/lib/munge", "/var/log/munge"):
            subprocess.run(_root_prefix() + ["mkdir", "-p", d], check=True)
            subprocess.run(_root_prefix() + ["chown", "munge:munge", d], check=True)
        if not key.exists():
            subprocess.run(_root_prefix() + ["sh", "-c", f"head -c 1024 /dev/urandom > {key} && chown munge:munge "
                                             f"{key} && chmod 400 {key}"], check=True)
        subprocess.run(_root_prefix() + ["su", "-s", "/bin/sh", "munge", "-c", "/usr/sbin/munged"], check=True)
        self.pids.append(_pid(Path("/run/munge/munged.pid")))

    def __enter__(self) -> "Cluster":
        ensure_installed()
        self._munge()
        host = socket.gethostname()
        mem = int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**20) - 1024
        t = self.tmp
        (t / "state").mkdir(parents=True, exist_ok=True)
        (t / "spool").mkdir(exist_ok=True)
        (t / "slurm.conf").write_text(f"""ClusterName=local
SlurmctldHost={host}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
StateSaveLocation={t}/state
SlurmdSpoolDir={t}/spool
SlurmctldPidFile={t}/slurmctld.pid
SlurmdPidFile={t}/slurmd.pid
SlurmctldLogFile={t}/slurmctld.log
SlurmdLogFile={t}/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SchedulerType=sched/backfill
ReturnToService=2
NodeName={host} CPUs={os.cpu_count()} RealMemory={mem} State=UNKNOWN
PartitionName=debug Nodes={host} Default=YES MaxTime=INFINITE State=UP
""")
        conf = str(t / "slurm.conf")
        subprocess.run(_root_prefix() + ["slurmctld", "-f", conf], check=True, env=self.env)
        self.pids.append(_pid(t / "slurmctld.pid"))
        subprocess.run(_root_prefix() + ["slurmd", "-f", conf], check=True, env=self.env)
        self.pids.append(_pid(t / "slurmd.pid"))
        end = time.time() + 30
        while time.time() < end:
            out = subprocess.run(["sinfo", "--noheader", "--format=%t"], capture_output=True, text=True, env=self.env)
            if out.stdout.strip() in ("idle", "mix", "alloc"):
                return self
            time.sleep(0.5)
        self.__exit__()
        raise RuntimeError("the SLURM node did not become idle within 30 s")

    def __exit__(self, *exc) -> None:
        for pid in reversed(self.pids):
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        self.pids.clear()
