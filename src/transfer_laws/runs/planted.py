"""A planted world: run records for every run a grid plans, with losses drawn from known laws, so
that the whole pipeline (run store, sweep extensions, selection, fits, ledger, book) can be run end
to end before a grid's real runs land and checked against the truth it was given.

The world: from scratch, L(N, D) = E(N) + A D^-d_exp with E(N) = e_inf + e_coef N^-e_exp (N
non-embedding parameters, D characters); a fine-tune on D_F characters reaches the from-scratch
loss at D_F + D_T, with D_T = k D_F^alpha N^beta (P / p_ref)^gamma times a log-normal multiplier
per pre-training checkpoint (P its pre-training tokens), plus a loss noise per run; horizon
branches of a from-scratch family are best at ``World.best_epochs(D)`` epochs. Steps and batch
sizes are the training loop's own (``train.loop.budget_steps``, ``batch_size``). Every record says
``"planted": true``, and ``plant`` refuses to write into the repository's own ``results/``: planted
records are never mixed with measured ones.
"""

from __future__ import annotations

import hashlib
import math
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from transfer_laws.runs import store
from transfer_laws.runs.spec import RunSpec
from transfer_laws.train.config import GPTConfig

REPO_RESULTS = Path(__file__).resolve().parents[3] / "results"

# results/ files that are measurements of the corpora, not runs: a planted folder gets the
# repository's copies, so that every chapter (the data chapter reads the vocabulary study) builds on it
CORPUS_MEASUREMENTS = ("tokenizer_choice.csv",)
CHARS_PER_TOKEN = 2.6
N_TEST_WINDOWS = 2048


@dataclass(frozen=True)
class World:
    e_inf: float = 1.8
    e_coef: float = 40.0
    e_exp: float = 0.3
    a_coef: float = 40.0
    d_exp: float = 0.3
    # per curriculum: (k, alpha, beta), D_T in characters
    laws: dict = field(default_factory=lambda: {"text": (5.0, 0.40, 0.35), "mix": (60.0, 0.20, 0.60)})
    gamma: float = 0.2  # the exponent of pre-training tokens (text)
    p_ref: float = 13_107_200.0
    checkpoint_sd: float = 0.3  # log D_T multiplier per pre-training checkpoint
    run_sd: float = 0.004  # nats, per run (data sample and fine-tuning seed)
    window_sd: float = 0.5
    pair_sd: float = 0.05
    # the best horizon of a from-scratch run (epochs over D): 25 at D = 1e5 and 50 at 1e6 in the
    # pilot's horizon branches (n28k, n100k), fewer at smaller D
    epochs_opt: float = 25.0
    epochs_d_exp: float = 0.3
    epochs_curvature: float = 0.02

    def best_epochs(self, d_chars: float) -> float:
        return self.epochs_opt * (d_chars / 1e5) ** self.epochs_d_exp

    def scratch_loss(self, n_params: float, d_chars: float) -> float:
        return self.e_inf + self.e_coef * n_params ** -self.e_exp + self.a_coef * d_chars ** -self.d_exp

    def transfer(self, curriculum: str, n_params: float, d_chars: float, pretrain_tokens: float) -> float:
        k, alpha, beta = self.laws[curriculum]
        return k * d_chars ** alpha * n_params ** beta * (pretrain_tokens / self.p_ref) ** self.gamma


def _rng(*key) -> np.random.Generator:
    return np.random.default_rng(int.from_bytes(hashlib.sha256(repr(key).encode()).digest()[:8], "little"))


def _windows(mean: float, key, world: World) -> list[float]:
    """Per-window test losses with the given mean: a pattern shared by every run (the same test
    windows) plus a small run-specific part, so that paired differences are precise."""
    base = _rng("windows").normal(0.0, world.window_sd, N_TEST_WINDOWS)
    own = _rng("pair", key).normal(0.0, world.pair_sd, N_TEST_WINDOWS)
    w = base + own
    return [round(float(x), 6) for x in w - w.mean() + mean]


def _curve(start: float, final: float, best_step: int, steps: int, tokens_per_step: int, flops_per_token: float,
           chars_per_token: float = CHARS_PER_TOKEN) -> list[dict]:
    pts = sorted({0, 1, 2, 4, 8} | {int(x) for x in np.geomspace(1, steps, 12)} | {best_step, steps})
    out = []
    for s in pts:
        loss = final + (start - final) * (1 - s / best_step) ** 2 if s <= best_step else \
            final + 0.002 * (s - best_step) / best_step
        t = s * tokens_per_step
        out.append({"step": s, "tokens": t, "chars": int(t * chars_per_token), "flops_full": flops_per_token * t,
                    "flops_kaplan": flops_per_token * t / 2, "lr": 0.0, "val_loss": loss, "val_loss_se": 0.001,
                    "zero_shot_loss": start if s == 0 else None})
    return out


def record(spec: RunSpec, world: World, pretrains: dict[str, RunSpec]) -> dict:
    """The planted record of one run (``pretrains``: run id -> spec of the pre-training runs)."""
    from transfer_laws.train.loop import batch_size, budget_steps

    cfg = GPTConfig.from_name(spec.size)
    n, n_total = cfg.n_params(), cfg.n_params(non_embedding=False)
    flops_per_token = 6.0 * n_total
    rng = _rng("run", spec.run_id)
    ctx = spec.n_ctx
    extra = {}
    if spec.phase == "pretrain":
        tokens = int(spec.train_tokens)
        batch = spec.batch_size
        steps = budget_steps(spec, tokens)
        best = steps
        zero = world.scratch_loss(n, world.transfer(spec.curriculum, n, 300.0, tokens) * 0.2)
        test = world.e_inf + world.e_coef * n ** -world.e_exp + 0.3  # on its own (text or mix) corpus
        extra = {"checkpoint_test_loss": zero,
                 "checkpoint_test_window_losses_nats": _windows(zero, ("checkpoint", spec.run_id), world)}
        d_chars, d_tokens, start = None, None, math.log(cfg.vocab_size)
        stop = "budget"
    else:
        d_chars = float(spec.d_train_chars)
        d_tokens = int(d_chars / CHARS_PER_TOKEN)
        batch = batch_size(spec, d_tokens)
        steps = budget_steps(spec, d_tokens)
        best = max(2, int(0.6 * steps))  # early-stopped: the minimum bracketed by evaluations
        if spec.curriculum == "scratch":
            loss = world.scratch_loss(n, d_chars)
            if spec.schedule == "wsd" and spec.max_epochs:
                # a horizon branch: best at its cool-down's end while shorter than the best horizon;
                # a longer one overfits after it (its best is then inside the run)
                opt = world.best_epochs(d_chars)
                loss += world.epochs_curvature * math.log(spec.max_epochs / opt) ** 2
                best = steps if spec.max_epochs <= opt else max(2, int(steps * opt / spec.max_epochs))
            start = math.log(cfg.vocab_size)
        else:
            pre = pretrains[spec.pretrain_id]
            ck = _rng("checkpoint", pre.curriculum, pre.size, pre.seed, pre.tokenizer).normal(0.0, world.checkpoint_sd)
            d_t = world.transfer(spec.curriculum, n, d_chars, float(pre.train_tokens)) * math.exp(ck)
            loss = world.scratch_loss(n, d_chars + d_t)
            start = world.scratch_loss(n, world.transfer(spec.curriculum, n, 300.0, float(pre.train_tokens)) * 0.2)
        test = loss + rng.normal(0.0, world.run_sd)
        tokens = steps * batch * ctx
        stop = "converged"
    val = test + 0.02
    windows = _windows(test, ("test", spec.run_id), world)
    tokens_per_step = batch * ctx
    return {
        "planted": True, "run_id": spec.run_id, "spec": spec.to_dict(),
        "batch_size": batch, "best_step": best, "steps": steps, "budget_stopped": stop == "budget",
        "stop_reason": stop, "max_steps": spec.max_steps, "warmup_steps": spec.warmup_steps or 0,
        "checks": {"first_min_step": best, "overrun": steps / best, "unresolved": False,
                   "warmup_past_first_min": False, "zero_shot": False},
        "curve": _curve(start, val, best, steps, tokens_per_step, flops_per_token),
        "d_train_chars": d_chars, "d_train_tokens": d_tokens,
        "epochs": tokens / d_tokens if d_tokens else None,
        "eval": {"n_ctx": ctx, "test_windows": N_TEST_WINDOWS, "val_windows": spec.val_windows},
        "flops_full": flops_per_token * tokens, "flops_kaplan": 6.0 * n * tokens,
        "git_commit": "planted", "hardware": {"name": "planted", "device": "cpu", "cpu_count": 2, "platform": ""},
        "model": {"d_model": cfg.d_model, "n_layer": cfg.n_layer, "n_head": cfg.n_head, "n_ctx": cfg.n_ctx,
                  "vocab_size": cfg.vocab_size},
        "n_params": n, "n_params_total": n_total, "patience_rule": "planted", "resumed_at_steps": [],
        "test_loss": test, "test_loss_se": float(np.std(windows) / math.sqrt(N_TEST_WINDOWS)),
        "test_bits_per_char": test / (CHARS_PER_TOKEN * math.log(2)), "test_window_losses_nats": windows,
        "tokens_seen": tokens, "val_loss": val, "versions": {}, "data_hashes": {},
        "wall_seconds": flops_per_token * tokens / 5e9, "cpu_seconds": 2 * flops_per_token * tokens / 5e9,
        **extra,
    }


def plant(grid: Path, root: Path, world: World | None = None, max_rounds: int = 8) -> int:
    """Write a planted record for every run ``grid`` plans that ``root`` lacks, re-planning until the
    grid's extensions (rate sweeps, horizon branches) add nothing; returns how many were written."""
    from transfer_laws.runs.sweep import load_grid

    root = Path(root)
    if root.resolve() == REPO_RESULTS.resolve():
        raise ValueError(f"{root} is the repository's results folder: planted records go elsewhere")
    world = world or World()
    root.mkdir(parents=True, exist_ok=True)
    for name in CORPUS_MEASUREMENTS:  # what the book reads besides runs: measured once on the corpora
        if (REPO_RESULTS / name).exists() and not (root / name).exists():
            shutil.copyfile(REPO_RESULTS / name, root / name)
    written = 0
    for _ in range(max_rounds):
        plan = load_grid(Path(grid), None, root=root)
        pretrains = {p.spec.run_id: p.spec for p in plan if p.spec.phase == "pretrain"}
        for rec in store.load_records(root):
            if rec["spec"]["phase"] == "pretrain":
                pretrains.setdefault(rec["run_id"], RunSpec.from_dict(rec["spec"]))
        todo = [p.spec for p in plan if not store.is_done(p.spec, root)]
        if not todo:
            return written
        for spec in todo:
            store.write_record(record(spec, world, pretrains), root)
            written += 1
    raise RuntimeError(f"{grid}: the plan still grew after {max_rounds} rounds of planting")
