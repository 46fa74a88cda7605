"""Training: the window sampler, a thin LightningModule, scheduled evaluation with Lightning's
early stopping, and ``train(spec, data) -> RunRecord`` (the store writes it).

The reported loss of a run is its *test*-split loss at the best-validation checkpoint.
"""

from __future__ import annotations

import copy
import logging
import math
import os
import platform
import subprocess
import sys
import time
import warnings
from pathlib import Path

import lightning as L
import numpy as np
import torch
from lightning.pytorch.callbacks import Callback

from transfer_laws.runs import checks as run_checks
from transfer_laws import runs
from transfer_laws.data.task import ExampleStream
from transfer_laws.data.windows import N_ZERO_SHOT_WINDOWS, EvalSet, WindowStream
from transfer_laws.train.model import GPT, GPTConfig, flops_per_token

# ---- data -----------------------------------------------------------------------------------

@torch.no_grad()
def evaluate(model: GPT, es: EvalSet, batch_size: int = 64) -> dict:
    """Mean loss in nats/token, its standard error over windows, bits per character, and the loss of
    each window (nats/token; two runs scored on the same windows can then be compared pairwise).

    A labelled set (``es.y`` of shape (n,): a downstream task) gives the labels' cross-entropy in
    nats/example instead, per example, and the accuracy (``bits_per_char`` is then None)."""
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    labelled = es.y.dim() == 1
    per_window, correct = [], 0
    for i in range(0, es.x.shape[0], batch_size):
        x, y = es.x[i : i + batch_size].to(device), es.y[i : i + batch_size].to(device)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type == "cuda"):
            if labelled:
                logits, loss = model.classify(x, y, reduction="none")
                correct += int((logits.argmax(-1) == y).sum())
            else:
                _, loss = model(x, y, reduction="none")
        per_window.append(loss.view(x.shape[0], -1).mean(1).float().cpu())
    model.train(was_training)
    w = torch.cat(per_window).double()
    mean = float(w.mean())
    out = {"loss": mean, "se": float(w.std() / math.sqrt(len(w))), "window_losses": w.tolist()}
    if labelled:
        return out | {"bits_per_char": None, "accuracy": correct / len(w)}
    return out | {"bits_per_char": mean * es.y.numel() / es.chars / math.log(2)}


class StreamDataModule(L.LightningDataModule):
    """The training batches of one run, from a stream: random windows of the training data mixed by
    weight (``WindowStream``) or a task's labelled examples (``task.ExampleStream``); the order is set
    by the run's seed."""

    def __init__(self, stream):
        super().__init__()
        self.stream = stream

    def train_dataloader(self):
        if self.stream.indexed:  # a resumed run (checkpoint restored before this call) continues its batches
            self.stream.start = self.trainer.global_step if self.trainer is not None else 0
        return torch.utils.data.DataLoader(self.stream, batch_size=None, num_workers=0)


# ---- the LightningModule --------------------------------------------------------------------

class LitGPT(L.LightningModule):
    """Thin wrapper: AdamW, linear warm-up, then cosine decay (to 10%) over a fixed horizon, or
    (``schedule="wsd"``) a constant rate and a 1-sqrt cool-down to zero over the last ``cooldown_frac``
    of the horizon (Hägele et al. 2024), so that runs of different lengths share their stable phase."""

    def __init__(self, model: GPT, lr: float, max_steps: int, warmup_steps: int, weight_decay: float,
                 schedule: str = "cosine", cooldown_frac: float = 0.2):
        super().__init__()
        self.model = model
        self.lr, self.max_steps, self.warmup_steps, self.weight_decay = lr, max_steps, warmup_steps, weight_decay
        self.schedule, self.cooldown_start = schedule, cooldown_start(max_steps, cooldown_frac)

    def training_step(self, batch, batch_idx):
        x, y = batch
        loss = self.model.loss(x, y)
        self.log("train/loss", loss, prog_bar=True, on_step=True, on_epoch=False)
        return loss

    def lr_at(self, step: int) -> float:
        if step < self.warmup_steps:
            return (step + 1) / self.warmup_steps
        if self.schedule == "wsd":
            if step < self.cooldown_start:
                return 1.0
            return max(0.0, 1 - math.sqrt((step - self.cooldown_start) / max(1, self.max_steps - self.cooldown_start)))
        t = min(1.0, (step - self.warmup_steps) / max(1, self.max_steps - self.warmup_steps))
        return 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * t))

    def configure_optimizers(self):
        decay = [p for n, p in self.model.named_parameters() if p.dim() >= 2]
        no_decay = [p for n, p in self.model.named_parameters() if p.dim() < 2]
        opt = torch.optim.AdamW([{"params": decay, "weight_decay": self.weight_decay},
                                 {"params": no_decay, "weight_decay": 0.0}], lr=self.lr, betas=(0.9, 0.95))
        sched = torch.optim.lr_scheduler.LambdaLR(opt, self.lr_at)
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}


def cooldown_start(max_steps: int, cooldown_frac: float) -> int:
    """The step at which a wsd run begins to cool down (the end of its shared stable phase)."""
    return int(round((1 - cooldown_frac) * max_steps))


def eval_schedule(max_steps: int, first: int = 10, growth: float = 1.25) -> list[int]:
    """Evaluation steps, dense early: log-spaced from ``first`` by ``growth`` (every step while the
    growth adds less than one), and the last step."""
    steps, s = [], float(first)
    while s < max_steps:
        steps.append(int(round(s)))
        s = max(s * growth, s + 1)
    return sorted(set(steps + [max_steps]))


class ScheduledEval(Callback):
    """Evaluates at the scheduled steps, records the curve, keeps the best weights, and stops the run
    after ``patience`` evaluations without improvement (a non-finite loss stops it at once).

    ``eval_step0`` also evaluates the weights before the first step (recipe 2: a fine-tune's best
    step may be 0, its checkpoint). Its whole state (curve, best weights, patience count, seconds
    spent) is saved in Lightning checkpoints, so a run resumed from one goes on as if uninterrupted;
    ``save_at(step)`` names extra steps at which to write such a checkpoint (forks, see ``resume``),
    ``save_every_s`` the period of the in-progress checkpoint. Patience counts only evaluations at or
    after ``patience_from`` (a wsd run's cool-down start: its stable phase is shared with longer
    siblings and is not where its minimum is read)."""

    def __init__(self, schedule, val: EvalSet, zero_shot: EvalSet | None, patience: int | None,
                 flops: dict[str, float], tokens_per_step: int, chars_per_token: float, eval_step0: bool = False,
                 save_at: dict[int, Path] | None = None, in_progress: Path | None = None, save_every_s: float = 600.0,
                 patience_from: int = 0):
        self.schedule, self.val, self.zero_shot, self.patience = set(schedule), val, zero_shot, patience
        self.patience_from = patience_from
        self.flops, self.tokens_per_step, self.chars_per_token = flops, tokens_per_step, chars_per_token
        self.eval_step0, self.save_at, self.in_progress, self.save_every_s = eval_step0, save_at or {}, in_progress, save_every_s
        self.curve: list[dict] = []
        self.best_loss, self.best_step, self.best_state = math.inf, 0, None
        self.wait, self.stopped, self.seconds_before, self.cpu_seconds_before = 0, False, 0.0, 0.0
        self.resumed_at: list[int] = []
        self._t0 = self._last_save = time.perf_counter()
        self._c0 = time.process_time()

    # -- state, for checkpoints --
    def state_dict(self) -> dict:
        return {"curve": self.curve, "best_loss": self.best_loss, "best_step": self.best_step,
                "best_state": self.best_state, "wait": self.wait, "stopped": self.stopped,
                "seconds": self.seconds(), "cpu_seconds": self.cpu_seconds(), "resumed_at": self.resumed_at}

    def load_state_dict(self, state: dict) -> None:
        self.curve, self.best_loss, self.best_step = state["curve"], state["best_loss"], state["best_step"]
        self.best_state, self.wait, self.stopped = state["best_state"], state["wait"], state["stopped"]
        self.seconds_before, self.resumed_at = state["seconds"], state["resumed_at"]
        self.cpu_seconds_before = state.get("cpu_seconds", 0.0)
        self._t0, self._c0 = time.perf_counter(), time.process_time()

    def seconds(self) -> float:
        return self.seconds_before + time.perf_counter() - self._t0

    def cpu_seconds(self) -> float:
        return self.cpu_seconds_before + time.process_time() - self._c0

    # -- hooks --
    def on_train_start(self, trainer, pl_module):
        if trainer.global_step:
            self.resumed_at = self.resumed_at + [trainer.global_step]
        if self.eval_step0 and trainer.global_step == 0 and not self.curve:
            self._evaluate(trainer, pl_module, 0)

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        step = trainer.global_step
        if step in self.schedule:
            self._evaluate(trainer, pl_module, step)
        if step in self.save_at:
            _save_checkpoint(trainer, self.save_at[step])
        if self.in_progress is not None and time.perf_counter() - self._last_save > self.save_every_s \
                and not trainer.should_stop:
            _save_checkpoint(trainer, self.in_progress)
            self._last_save = time.perf_counter()

    def _evaluate(self, trainer, pl_module, step: int) -> None:
        v = evaluate(pl_module.model, self.val)
        tokens = step * self.tokens_per_step
        point = {"step": step, "tokens": tokens, "chars": round(tokens * self.chars_per_token),
                 "flops_kaplan": tokens * self.flops["kaplan"], "flops_full": tokens * self.flops["full"],
                 "lr": trainer.optimizers[0].param_groups[0]["lr"] if step else 0.0, "val_loss": v["loss"],
                 "val_loss_se": v["se"]}
        if self.zero_shot is not None:
            point["zero_shot_loss"] = evaluate(pl_module.model, self.zero_shot)["loss"]
        self.curve.append(point)
        if v["loss"] < self.best_loss:
            self.best_loss, self.best_step, self.wait = v["loss"], step, 0
            self.best_state = copy.deepcopy(pl_module.model.state_dict())
        elif step >= self.patience_from:
            self.wait += 1
        if self.patience is not None and (not math.isfinite(v["loss"]) or self.wait >= self.patience):
            self.stopped = trainer.should_stop = True


def _save_checkpoint(trainer, path: Path) -> None:
    """A Lightning checkpoint (weights, optimiser, schedule, loop counters, callback states), atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    trainer.save_checkpoint(tmp)
    tmp.replace(path)


# ---- provenance -----------------------------------------------------------------------------

def hardware(device: str) -> dict:
    if device == "cuda":
        name = torch.cuda.get_device_name(0)
    else:
        name = f"{platform.machine()} CPU x{torch.get_num_threads()} threads"
    return {"device": device, "name": name, "cpu_count": os.cpu_count(), "platform": platform.platform()}


def versions() -> dict:
    import lightning
    import tokenizers

    import transfer_laws

    return {"torch": torch.__version__, "lightning": lightning.__version__, "tokenizers": tokenizers.__version__,
            "numpy": np.__version__, "python": platform.python_version(), "transfer_laws": transfer_laws.__version__}


def git_commit() -> str:
    """The checkout's commit (``+dirty`` when src/ has changes); on a GPU payload's machine the commit the
    payload was built at (``TRANSFER_LAWS_GIT_COMMIT``, set by scripts/gpu_pass.sh), which wins: the
    repository copy there is the lending tool's, whose git metadata need not match the files it sent."""
    if os.environ.get("TRANSFER_LAWS_GIT_COMMIT"):
        return os.environ["TRANSFER_LAWS_GIT_COMMIT"]
    try:
        root = Path(__file__).resolve().parents[3]
        sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "src"], cwd=root, capture_output=True, text=True).stdout
        return sha + ("+dirty" if dirty.strip() else "")
    except (subprocess.CalledProcessError, FileNotFoundError):
        return "unknown"


# ---- one run --------------------------------------------------------------------------------

def resolve_device(device: str) -> str:
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("--device cuda asked for, but CUDA is not available")
    return device


def batch_size(spec: runs.RunSpec, d_train_tokens: int) -> int:
    """Sequences per step. ``one_pass``: the largest power of 2 <= batch_size whose step holds at
    most one pass over the training tokens (D_F = 1e3 characters is ~420 tokens: 2 windows of 128)."""
    if spec.batch_rule == "fixed" or spec.phase == "pretrain":
        return spec.batch_size
    fit = max(1, d_train_tokens // spec.n_ctx)
    return int(min(spec.batch_size, 2 ** int(math.floor(math.log2(fit)))))


def budget_steps(spec: runs.RunSpec, d_train_tokens: int) -> int:
    """The schedule's horizon, fixed in advance from the data size, the epoch cap and the step caps."""
    per_step = batch_size(spec, d_train_tokens) * spec.n_ctx
    if spec.phase == "pretrain":
        want = math.ceil(spec.train_tokens / per_step)
    else:
        want = math.ceil(spec.max_epochs * d_train_tokens / per_step)
    return int(min(spec.max_steps, max(spec.min_steps, want)))


def warmup_steps(spec: runs.RunSpec, max_steps: int) -> int:
    if spec.warmup_steps is not None:
        return int(spec.warmup_steps)
    return max(1, int(spec.warmup_frac * max_steps))


PATIENCE_RULE = ("stop after `patience` evaluations in a row without a lower validation loss; with "
                 "evaluations every step up to 1/(growth-1) steps and then growing by `eval_growth`, a "
                 "run stops at most growth**patience x its best step (or patience steps after it)")


def make_trainer(device: str, max_steps: int, **overrides) -> L.Trainer:
    """The one place a Lightning Trainer is built: one device, bf16 autocast on CUDA and float32 on
    the CPU (where bf16 is slower), no logger, checkpoints or validation loop (evaluation is our own
    callback's), gradient clipping at 1.0 unless overridden."""
    kwargs = dict(accelerator="gpu" if device == "cuda" else "cpu", devices=1, max_steps=max_steps,
                  precision="bf16-mixed" if device == "cuda" else "32-true", gradient_clip_val=1.0, logger=False,
                  enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
                  num_sanity_val_steps=0, limit_val_batches=0)
    kwargs.update(overrides)
    with warnings.catch_warnings():  # outside a SLURM job on a machine with SLURM's clients (see train)
        warnings.filterwarnings("ignore", message=".*The `srun` command is available on your system.*")
        return L.Trainer(**kwargs)


def train(spec: runs.RunSpec, data, device: str = "auto", results_root: Path | None = None,
          trainer_kwargs: dict | None = None, progress: bool | None = None, fork_steps=(),
          save_every_s: float = 600.0, stop_at_step: int | None = None) -> dict | None:
    """Train one run and write its record (and, for pre-training, its checkpoint); returns the record.

    ``data`` is a ``transfer_laws.data.windows.StudyData`` (token arrays and eval sets). Recipe 2 resumes
    from ``results/in_progress/<run_id>.ckpt`` or from a fork of its family (``resume``), saves forks
    at ``fork_steps`` (the cool-down starts of its siblings) and its in-progress checkpoint every
    ``save_every_s`` seconds. ``stop_at_step`` (tests) saves the in-progress checkpoint at that step
    and returns None, as a run killed just after a periodic save would leave things.
    """
    from transfer_laws.train import checkpoints, resume

    device = resolve_device(device)
    t0, c0 = time.perf_counter(), time.process_time()
    recipe2 = spec.recipe == 2
    data = data.for_spec(spec) if hasattr(data, "for_spec") else data
    L.seed_everything(spec.seed, workers=True, verbose=False)
    task = data.task(spec.task, spec.n_ctx) if spec.task != "lm" else None
    cfg = GPTConfig.from_name(spec.size, vocab_size=data.vocab_size, n_ctx=spec.n_ctx,
                              n_classes=task.n_classes if task else 0)
    model = GPT(cfg)
    if spec.pretrain_id:
        checkpoints.load_into(model, spec.pretrain_id, results_root)

    if task is None:
        arrays, weights, d_train_tokens, chars_per_token = data.training_arrays(spec)
        val, test_set = data.val_set(spec), data.test_set(spec.test_windows, spec.n_ctx)
    else:  # a downstream task: labelled windows; its "tokens" are those of its examples
        examples = task.train_set(spec.d_train_examples, spec.data_seed)
        d_train_tokens = examples.x.numel()
        chars_per_token = examples.chars / d_train_tokens
        val, test_set = task.eval_set("val", spec.val_windows), task.eval_set("test", spec.test_windows)
    batch = batch_size(spec, d_train_tokens)
    max_steps = budget_steps(spec, d_train_tokens)
    warmup = warmup_steps(spec, max_steps)
    zero_shot = data.test_set(N_ZERO_SHOT_WINDOWS, spec.n_ctx) if spec.phase == "pretrain" else None
    per_step = batch * spec.n_ctx
    # recipe 2: pre-training runs to its budget (siblings must share their stable phase); target runs
    # evaluate the weights before any step, then every step while the schedule is that dense
    patience = None if (recipe2 and spec.phase == "pretrain") else spec.patience
    schedule = eval_schedule(max_steps, first=1 if recipe2 else 10, growth=spec.eval_growth)
    ckpt_path, save_at, in_progress = None, {}, None
    if recipe2:
        in_progress = resume.in_progress_path(spec.run_id, results_root)
        key = resume.family(spec)
        if key is not None:
            own = cooldown_start(max_steps, spec.cooldown_frac)
            save_at = {s: resume.fork_path(key, s, results_root) for s in {*fork_steps, own} if 0 < s <= own}
            ckpt_path = resume.latest_fork(key, own, results_root)
        if in_progress.exists():
            ckpt_path = in_progress
        if stop_at_step is not None:
            save_at[stop_at_step] = in_progress
    # a wsd target run (a horizon branch) is judged by patience only once it cools down
    patience_from = cooldown_start(max_steps, spec.cooldown_frac) if spec.schedule == "wsd" else 0
    evaluator = ScheduledEval(schedule, val, zero_shot, patience, flops_per_token(cfg), per_step, chars_per_token,
                              eval_step0=recipe2, save_at=save_at, in_progress=in_progress, save_every_s=save_every_s,
                              patience_from=patience_from)
    lit = LitGPT(model, spec.lr, max_steps, warmup, spec.weight_decay, schedule=spec.schedule,
                 cooldown_frac=spec.cooldown_frac)
    seed = spec.seed + 1_000_003
    if task is None:
        datamodule = StreamDataModule(WindowStream(arrays, weights, batch, spec.n_ctx, seed, indexed=recipe2))
    else:
        datamodule = StreamDataModule(ExampleStream(examples, batch, seed))
    kwargs = dict(max_steps=max_steps if stop_at_step is None else stop_at_step, gradient_clip_val=spec.grad_clip,
                  enable_progress_bar=sys.stderr.isatty() if progress is None else progress, callbacks=[evaluator],
                  deterministic=device == "cpu", **(trainer_kwargs or {}))
    quiet = logging.getLogger("lightning.pytorch")
    level = quiet.level
    quiet.setLevel(logging.WARNING)  # no "GPU available: ..." banners on stderr
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*LeafSpec.*")
        warnings.filterwarnings("ignore", message=".*does not have many workers.*")
        warnings.filterwarnings("ignore", message=".*IterableDataset.*")
        warnings.filterwarnings("ignore", message=".*You defined a `validation_step`.*")
        warnings.filterwarnings("ignore", message=".*resuming from a checkpoint that ended before the epoch.*")
        warnings.filterwarnings("ignore", message=".*is not resumable.*")
        # on a machine with SLURM's clients installed, a run outside a job (a local sweep, the book)
        # is told that `srun` exists; inside a job Lightning reads the job's variables instead
        warnings.filterwarnings("ignore", message=".*The `srun` command is available on your system.*")
        trainer = make_trainer(device, **kwargs)
        trainer.fit(lit, datamodule=datamodule, ckpt_path=str(ckpt_path) if ckpt_path else None)
    quiet.setLevel(level)
    if stop_at_step is not None:
        return None

    steps = trainer.global_step
    stop_reason = "converged" if (evaluator.stopped and steps < max_steps) else "budget"
    model.load_state_dict(evaluator.best_state)
    model.to(torch.device(device))
    n_test = spec.test_windows
    test = evaluate(model, test_set)
    fl = flops_per_token(cfg)
    tokens_seen = steps * per_step
    record = {
        "run_id": spec.run_id, "spec": spec.to_dict(),
        "n_params": cfg.n_params(), "n_params_total": cfg.n_params(non_embedding=False),
        "model": {"d_model": cfg.d_model, "n_layer": cfg.n_layer, "n_head": cfg.n_head, "vocab_size": cfg.vocab_size,
                  "n_ctx": cfg.n_ctx},
        "d_train_tokens": d_train_tokens, "d_train_chars": spec.d_train_chars or round(d_train_tokens * chars_per_token),
        "max_steps": max_steps, "warmup_steps": warmup, "steps": steps, "tokens_seen": tokens_seen,
        "epochs": tokens_seen / d_train_tokens, "best_step": evaluator.best_step,
        "val_loss": evaluator.best_loss, "test_loss": test["loss"], "test_loss_se": test["se"],
        "test_bits_per_char": test["bits_per_char"],
        "test_window_losses_nats": [round(x, 6) for x in test["window_losses"]],
        "stop_reason": stop_reason, "budget_stopped": stop_reason == "budget",
        "flops_kaplan": tokens_seen * fl["kaplan"], "flops_full": tokens_seen * fl["full"],
        "curve": evaluator.curve, "eval": {"val_windows": val.x.shape[0], "test_windows": n_test,
                                            "n_ctx": spec.n_ctx},
        "wall_seconds": round(time.perf_counter() - t0, 2),
        # CPU time of this process (all threads): unlike wall time, not inflated by a paused
        # (kill -STOP) sweep; on 2 threads about 2x the wall time of an uncontended run
        "cpu_seconds": round(time.process_time() - c0, 2), "hardware": hardware(device), "versions": versions(),
        "git_commit": git_commit(), "data_hashes": data.token_hashes,
    }
    if task is not None:  # D in examples; in characters as the fits read it (see data.task)
        record.update({"task": spec.task, "d_train_examples": spec.d_train_examples,
                       "d_train_chars": task.nominal_chars(spec.d_train_examples), "d_train_chars_sample": examples.chars,
                       "test_accuracy": test["accuracy"], "n_classes": task.n_classes})
        record["eval"]["test_windows"] = len(test_set.y)
    if recipe2:
        record["batch_size"] = batch
        if spec.phase == "target":  # pre-training runs to its budget: its best is its last step by design
            record["checks"] = run_checks.checks(evaluator.curve, evaluator.best_step, warmup)
        record["patience_rule"] = PATIENCE_RULE if patience is not None else "none: runs to its budget"
        # the cost of the run as if alone (steps computed by forks or earlier sessions included)
        record["wall_seconds"] = round(evaluator.seconds_before + time.perf_counter() - t0, 2)
        record["cpu_seconds"] = round(evaluator.cpu_seconds_before + time.process_time() - c0, 2)
        record["resumed_at_steps"] = evaluator.resumed_at
        if ckpt_path is not None and ckpt_path != in_progress:
            record["forked_from"] = str(Path(ckpt_path).relative_to(runs.results_dir(results_root)))
    if spec.phase == "pretrain":
        checkpoints.save(model, spec.run_id, results_root)
        if recipe2:  # the committed (float16) checkpoint on the fine-tunes' test windows, for paired checks
            stored = GPT(cfg)
            checkpoints.load_into(stored, spec.run_id, results_root)
            z = evaluate(stored.to(torch.device(device)), data.test_set(n_test, spec.n_ctx))
            record["checkpoint_test_loss"] = z["loss"]
            record["checkpoint_test_window_losses_nats"] = [round(x, 6) for x in z["window_losses"]]
    rec = runs.RunRecord.from_dict(record)
    runs.write_record(rec, results_root)
    if in_progress is not None:
        in_progress.unlink(missing_ok=True)
    return rec
