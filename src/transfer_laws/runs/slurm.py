"""Sweeps on a SLURM cluster through submitit (the ``[slurm]`` extra): every run one job, named by
its run id.

A fine-tune depends on its pre-training job (``afterok``), and a warm-up-stable-decay branch on the
longest run of its family, whose forks it then resumes from. Each job writes its record atomically
into the shared results directory with the run store. Running the sweep again skips finished
runs and does not resubmit runs whose job is queued or running (looked up by job name with
``squeue``). A failed job is reported with its log path; the others go on. ``run_sweep`` with
``executor="local"`` (the default) trains in this process, as before.

Multi-GPU or multi-node training of one run: submit with ``--slurm-gpus-per-task`` and pass
Lightning's ``--devices``/``--num-nodes``/``--strategy ddp``; Lightning's SLURM environment plugin
reads the job's ``SLURM_*`` variables (one task per GPU: ``--ntasks-per-node`` equal to the
devices), as its documentation describes.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from transfer_laws import runs


def run_job(spec: dict, root: str | None, device: str, fork_steps: list[int], trainer_kwargs: dict | None) -> str:
    """What one job runs: the run of ``spec``; its record lands in ``root`` (atomically, by the store)."""
    from transfer_laws.data.windows import StudyData
    from transfer_laws.train.loop import train

    s = runs.RunSpec.from_dict(spec)
    if runs.is_done(s, Path(root) if root else None):
        return s.run_id
    train(s, StudyData(), device=device, results_root=Path(root) if root else None, trainer_kwargs=trainer_kwargs,
          fork_steps=fork_steps)
    return s.run_id


def queued_jobs() -> dict[str, str]:
    """Job name -> job id of this user's jobs that SLURM still holds (pending, running, ...)."""
    out = subprocess.run(["squeue", "--me", "--noheader", "--format=%j|%i|%T"], capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError(f"squeue failed: {out.stderr.strip() or out.returncode}")
    jobs = {}
    for line in out.stdout.splitlines():
        name, jid, state = (line.split("|") + ["", "", ""])[:3]
        if state.strip() not in ("COMPLETED", "FAILED", "CANCELLED", "TIMEOUT"):
            jobs[name.strip()] = jid.strip()
    return jobs


@dataclass
class SlurmExecutor:
    """submitit's SLURM executor with this project's job naming and dependencies."""

    folder: Path
    partition: str | None = None
    gpus_per_task: int = 0
    cpus_per_task: int | None = None
    timeout_min: int = 24 * 60
    submitted: dict = field(default_factory=dict)  # run id -> submitit job

    def _executor(self, name: str, after: list[str]):
        import submitit

        ex = submitit.AutoExecutor(folder=self.folder, cluster="slurm")
        params = {"name": name, "timeout_min": self.timeout_min, "slurm_additional_parameters": {}}
        if self.partition:
            params["slurm_partition"] = self.partition
        if self.gpus_per_task:
            params["slurm_gpus_per_task"] = self.gpus_per_task
        if self.cpus_per_task:
            params["cpus_per_task"] = self.cpus_per_task
        if after:
            params["slurm_additional_parameters"]["dependency"] = "afterok:" + ":".join(after)
        ex.update_parameters(**params)
        return ex

    def submit(self, spec: runs.RunSpec, root: Path | None, device: str, fork_steps: list[int],
               trainer_kwargs: dict | None, after: list[str]):
        job = self._executor(spec.run_id, after).submit(run_job, spec.to_dict(), str(root) if root else None, device,
                                                        list(fork_steps), trainer_kwargs)
        self.submitted[spec.run_id] = job
        return job


def submit_plan(plan, executor: SlurmExecutor, root: Path | None, device: str, forks: dict, trainer_kwargs,
                log=print) -> dict:
    """Submit every run of ``plan`` (in its dependency order) that is neither done nor held by
    SLURM; returns run id -> submitit job for the runs submitted now."""
    from transfer_laws.train import resume
    from transfer_laws.train.loop import budget_steps

    held = queued_jobs()
    job_of = dict(held)  # run id -> SLURM job id, for dependencies
    longest = {}
    for p in plan:
        key = resume.family(p.spec)
        if key is not None:
            steps = budget_steps(p.spec, p.spec.train_tokens)
            if key not in longest or steps > longest[key][0]:
                longest[key] = (steps, p.spec.run_id)
    new = {}
    for p in plan:
        s = p.spec
        if runs.is_done(s, root):
            continue
        if s.run_id in held:
            log(f"held {s.run_id}: SLURM job {held[s.run_id]} is queued or running")
            continue
        after = []
        if s.pretrain_id and not runs.record_path(s.pretrain_id, root).exists():
            if s.pretrain_id not in job_of:
                log(f"skip {s.run_id}: its pre-training run {s.pretrain_id} is neither done nor submitted")
                continue
            after.append(job_of[s.pretrain_id])
        key = resume.family(s)
        if key is not None and longest[key][1] != s.run_id:
            head = longest[key][1]
            if head in job_of:
                after.append(job_of[head])
        key_forks = sorted(forks.get(key, ())) if key else []
        job = executor.submit(s, root, device, key_forks, trainer_kwargs, after)
        job_of[s.run_id] = job.job_id
        new[s.run_id] = job
        log(f"submitted {s.run_id}: SLURM job {job.job_id}" + (f" (after {', '.join(after)})" if after else ""))
    return new


def _outcome(run_id: str, job, log) -> bool:
    """A finished job's result: True when its run finished, False (reported with its log) otherwise."""
    try:
        job.result()
        log(f"  done {run_id} (SLURM job {job.job_id})")
        return True
    except Exception as exc:  # a failed job is reported, the others go on
        msg = str(exc).strip().splitlines()
        log(f"  FAILED {run_id} (SLURM job {job.job_id}): {msg[-1] if msg else type(exc).__name__}; "
            f"log {job.paths.stderr}")
        return False


def wait(jobs: dict, log=print, poll_s: float = 2.0, grace_s: float = 10.0) -> list[str]:
    """Wait for every job; returns the run ids that finished. A job is over when submitit has its
    result file, or when it has left SLURM's queue without one (cancelled or killed: without an
    accounting database, ``sacct`` cannot say so, and submitit would wait for ever); each failure
    is reported with its log path and the other jobs go on."""
    import time

    finished, pending, gone = [], dict(jobs), {}
    while pending:
        held = set(queued_jobs().values())
        for run_id, job in list(pending.items()):
            if job.paths.result_pickle.exists():
                if _outcome(run_id, job, log):
                    finished.append(run_id)
                del pending[run_id]
            elif str(job.job_id) not in held:
                gone.setdefault(run_id, time.time())
                if time.time() - gone[run_id] > grace_s:  # its result file would have appeared by now
                    log(f"  FAILED {run_id} (SLURM job {job.job_id}): left the queue without a result "
                        f"(cancelled or killed); log {job.paths.stderr}")
                    del pending[run_id]
        if pending:
            time.sleep(poll_s)
    return finished


def wait_for_names(names, log=print, poll_s: float = 2.0) -> None:
    """Wait until no job named in ``names`` (submitted by another sweep) is held by SLURM."""
    import time

    names = set(names)
    if names:
        log(f"waiting for {len(names)} job(s) another sweep submitted")
    while names & set(queued_jobs()):
        time.sleep(poll_s)
