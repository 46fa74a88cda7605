"""The run record, typed: what ``train`` returns and the store writes as ``results/runs/<run_id>.json``.

Field names are the JSON keys of every committed record (frozen: readers and the run ids depend
on them). Fields a record of the first grid does not carry default to None and are left out of
its JSON, so every committed record reads and writes back unchanged (a test round-trips them all).
"""

from __future__ import annotations

from dataclasses import MISSING, asdict, dataclass, fields


@dataclass(frozen=True)
class RunRecord:
    run_id: str
    spec: dict  # RunSpec.to_dict()
    n_params: int  # non-embedding
    n_params_total: int
    model: dict  # d_model, n_layer, n_head, vocab_size, n_ctx
    d_train_tokens: int
    d_train_chars: int
    max_steps: int  # the schedule's horizon
    warmup_steps: int
    steps: int
    tokens_seen: int
    epochs: float
    best_step: int
    val_loss: float  # nats/token at the best step
    test_loss: float  # nats/token on the Python test windows, at the best-validation weights
    test_loss_se: float
    test_bits_per_char: float
    stop_reason: str  # "converged" | "budget"
    budget_stopped: bool
    flops_kaplan: float
    flops_full: float
    curve: list  # evaluation points: step, tokens, chars, flops, lr, val_loss (, zero_shot_loss)
    eval: dict  # val_windows, test_windows, n_ctx
    wall_seconds: float
    hardware: dict
    versions: dict
    git_commit: str
    data_hashes: dict
    # ---- added later (None in records written before they existed) ----
    test_window_losses_nats: list | None = None  # per test window, for paired comparisons
    cpu_seconds: float | None = None
    batch_size: int | None = None  # recipe 2: sequences per step (the one-pass rule)
    checks: dict | None = None  # recipe-2 target runs: runs.checks.checks
    patience_rule: str | None = None
    resumed_at_steps: list | None = None
    forked_from: str | None = None
    checkpoint_test_loss: float | None = None  # recipe-2 pre-training: its float16 checkpoint's test loss
    checkpoint_test_window_losses_nats: list | None = None
    # downstream-task runs (issue 22): D in examples, the sample's exact characters (d_train_chars is
    # the nominal examples x mean characters per example), the accuracy beside the labels' loss
    task: str | None = None
    d_train_examples: int | None = None
    d_train_chars_sample: int | None = None
    test_accuracy: float | None = None
    n_classes: int | None = None
    planted: bool | None = None  # True: written by runs.planted from known laws, never measured

    def to_dict(self) -> dict:
        optional = {f.name for f in fields(self) if f.default is None}
        return {k: v for k, v in asdict(self).items() if not (k in optional and v is None)}

    @classmethod
    def from_dict(cls, d: dict) -> "RunRecord":
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(f"run record {d.get('run_id', '?')}: unknown fields {unknown}")
        missing = sorted(f.name for f in fields(cls) if f.default is MISSING and f.name not in d)
        if missing:
            raise ValueError(f"run record {d.get('run_id', '?')}: missing fields {missing}")
        return cls(**d)
