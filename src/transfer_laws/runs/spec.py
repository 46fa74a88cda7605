"""Run specs and run ids: a run is a frozen ``RunSpec``; its id is a hash of its content.

Serialized field names are frozen (they are hashed into every committed run id).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, fields

from transfer_laws.train.config import LADDER
from transfer_laws.train.hparams import learning_rate

PHASES = ("pretrain", "target")
PRETRAIN_CURRICULA = ("text", "mix")
SCHEDULES = ("cosine", "wsd")
BATCH_RULES = ("fixed", "one_pass")
# The fields added for the second recipe, at the values every first-grid run had: left out of the
# hash at these values (so no committed id changes), hashed as soon as they differ.
LEGACY = {"recipe": 1, "data_seed": 0, "val_windows": 128, "test_windows": 512, "schedule": "cosine",
          "cooldown_frac": 0.2, "warmup_steps": None, "batch_rule": "fixed", "eval_growth": 1.25, "tokenizer": "main",
          "task": "lm", "d_train_examples": None}


def spec_id(spec: dict) -> str:
    """The run id: the first 16 hex digits of the sha256 of the spec's JSON, legacy-valued new fields
    left out (see LEGACY)."""
    blob = {k: v for k, v in spec.items() if not (k in LEGACY and v == LEGACY[k])}
    return hashlib.sha256(json.dumps(blob, sort_keys=True, separators=(",", ":")).encode()).hexdigest()[:16]


@dataclass(frozen=True)
class RunSpec:
    """Everything that determines a run. Sizes of data are in characters (as in the paper)."""

    phase: str  # "pretrain" | "target"
    curriculum: str  # target: "scratch" or the pre-training curriculum ("text", "mix"); pretrain: "text" | "mix"
    size: str  # a name of model.LADDER
    seed: int = 0  # drives initialisation (scratch/pretrain) and data order
    d_train_chars: int | None = None  # target: D (scratch) or D_F (fine-tune); pretrain: None (whole split)
    train_tokens: int | None = None  # pretrain: token budget (the grid's rule); target: None
    pretrain_id: str | None = None  # target runs with a non-scratch curriculum
    lr: float | None = None  # None: hparams.learning_rate(size, phase, curriculum, recipe, D), by make()
    batch_size: int = 32  # sequences per step
    n_ctx: int = 128  # tokens per sequence
    max_epochs: float = 50.0  # target: epochs over D_F; pretrain: epochs over the text split (cap)
    max_steps: int = 3000  # hard cap on the cosine horizon
    min_steps: int = 200  # floor on the horizon (tiny D)
    warmup_frac: float = 0.05  # of the horizon (at most 10%)
    weight_decay: float = 0.1
    grad_clip: float = 1.0
    patience: int = 6  # evaluations without improvement before stopping
    mix_code_fraction: float = 0.5  # mix pre-training: share of tokens from the code corpus
    contamination_frac: float = 0.0  # pretrain: share of tokens from the Python *aside* split
    experiment: str = "main"
    # ---- the second study's recipe (issue 17). Each field below is left out of the run id while it
    # holds its LEGACY value, so every record written before these fields existed keeps its id. ----
    recipe: int = 1  # 1: the first grid's training loop; 2: see RECIPE_2 below
    data_seed: int = 0  # target runs: 0 = the first D characters of the fixed file order; k >= 1 = the
    #                     k-th disjoint sample of spans from random files (datasets.sample_stream)
    val_windows: int = 128  # fixed validation windows (early stopping and best-step selection)
    test_windows: int = 512  # fixed Python test windows for the reported loss
    schedule: str = "cosine"  # "cosine" (to 10% over the horizon) | "wsd" (warm-up, stable, 1-sqrt cool-down)
    cooldown_frac: float = 0.2  # wsd: the share of the run spent cooling down
    warmup_steps: int | None = None  # explicit warm-up steps (None: warmup_frac of the horizon)
    batch_rule: str = "fixed"  # "fixed" | "one_pass": the largest power of 2 <= batch_size whose step
    #                            holds at most one pass over the training tokens
    eval_growth: float = 1.25  # evaluation steps grow by this factor (every step while that adds < 1)
    tokenizer: str = "main"  # a name of data.tokenizer.TOKENIZERS (each has its own token arrays)
    # ---- downstream tasks (issue 22): a target run on a labelled task instead of next-token Python ----
    task: str = "lm"  # "lm" (next-token loss) or a name of data.task.TASKS
    d_train_examples: int | None = None  # a task run's training set, in examples (D_F or D)

    def __post_init__(self):
        if self.phase not in PHASES:
            raise ValueError(f"unknown phase {self.phase!r} (expected {PHASES})")
        if self.size not in LADDER:
            raise ValueError(f"unknown model size {self.size!r}; known sizes: {', '.join(LADDER)}")
        if self.phase == "pretrain":
            if self.curriculum not in PRETRAIN_CURRICULA:
                raise ValueError(f"unknown pre-training curriculum {self.curriculum!r} (expected {PRETRAIN_CURRICULA})")
            if not self.train_tokens or self.train_tokens <= 0:
                raise ValueError("a pre-training run needs a positive train_tokens budget")
        elif self.task != "lm":
            from transfer_laws.data.task import TASKS

            if self.task not in TASKS:
                raise ValueError(f"unknown task {self.task!r} (known: lm, {', '.join(TASKS)})")
            if not self.d_train_examples or self.d_train_examples <= 0 or self.d_train_chars is not None:
                raise ValueError("a task run needs a positive d_train_examples (and no d_train_chars)")
            if self.recipe != 2:
                raise ValueError("a task run needs recipe = 2")
        else:
            if not self.d_train_chars or self.d_train_chars <= 0:
                raise ValueError("a target run needs a positive d_train_chars")
            if self.d_train_examples is not None:
                raise ValueError("d_train_examples is for task runs (task != \"lm\")")
        if self.phase == "target" and (self.curriculum == "scratch") != (self.pretrain_id is None):
            raise ValueError("a fine-tune needs pretrain_id; a scratch run must not have one")
        if self.phase == "pretrain" and self.task != "lm":
            raise ValueError("pre-training is next-token prediction: task must be \"lm\"")
        if not 0 <= self.warmup_frac <= 0.1:
            raise ValueError("warmup_frac must be within [0, 0.1]")
        if self.recipe not in (1, 2):
            raise ValueError(f"unknown recipe {self.recipe!r} (expected 1 or 2)")
        if self.schedule not in SCHEDULES:
            raise ValueError(f"unknown schedule {self.schedule!r} (expected {SCHEDULES})")
        if self.batch_rule not in BATCH_RULES:
            raise ValueError(f"unknown batch_rule {self.batch_rule!r} (expected {BATCH_RULES})")
        if self.recipe == 1 and any(getattr(self, k) != v for k, v in LEGACY.items() if k != "recipe"):
            changed = sorted(k for k, v in LEGACY.items() if k != "recipe" and getattr(self, k) != v)
            raise ValueError(f"fields {changed} need recipe = 2 (recipe 1 is the first grid's loop)")
        if self.data_seed < 0 or (self.data_seed and self.phase == "pretrain"):
            raise ValueError("data_seed must be >= 0, and 0 for pre-training")
        if not 0 < self.cooldown_frac < 1:
            raise ValueError("cooldown_frac must be within (0, 1)")
        if self.warmup_steps is not None and self.warmup_steps < 0:
            raise ValueError("warmup_steps must be >= 0")
        if self.eval_growth <= 1:
            raise ValueError("eval_growth must be > 1")
        from transfer_laws.data.tokenizer import TOKENIZERS

        if self.tokenizer not in TOKENIZERS:
            raise ValueError(f"unknown tokenizer {self.tokenizer!r} (known: {', '.join(TOKENIZERS)})")

    @classmethod
    def make(cls, **kw) -> "RunSpec":
        """A spec with the learning rate resolved from ``hparams`` when not given."""
        spec = cls(**kw)
        if spec.lr is None:
            spec = cls(**{**kw, "lr": learning_rate(spec.size, spec.phase, spec.curriculum, spec.recipe,
                                                    spec.d_train_chars, spec.task)})
        return spec

    @property
    def d_train(self) -> int | None:
        """The training-set size in the run's own unit: characters (next-token runs) or examples (tasks)."""
        return self.d_train_examples if self.task != "lm" else self.d_train_chars

    @property
    def run_id(self) -> str:
        return spec_id(asdict(self))

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "RunSpec":
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in known})
