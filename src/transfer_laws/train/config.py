"""The model's frozen config, the named size ladder and FLOPs per token: no torch, so that planning
runs, reading their tables and fitting laws never load it (``model`` builds the network from these).
"""

from __future__ import annotations

from dataclasses import dataclass, replace


@dataclass(frozen=True)
class GPTConfig:
    d_model: int = 64
    n_layer: int = 2
    n_head: int = 4  # head size d_model / n_head = 16 across the ladder
    vocab_size: int = 1024  # the committed tokenizer's vocabulary
    n_ctx: int = 128  # context length in tokens (~400 characters of Python)
    n_classes: int = 0  # > 0: a classification head for a downstream task (not counted in N)

    @classmethod
    def from_name(cls, name: str, **overrides) -> "GPTConfig":
        if name not in LADDER:
            raise ValueError(f"unknown model size {name!r}; known sizes: {', '.join(LADDER)}")
        return replace(LADDER[name], **overrides)

    def n_params(self, non_embedding: bool = True) -> int:
        """Kaplan's N (non-embedding) by formula; ``non_embedding=False`` adds both embeddings."""
        d, L = self.d_model, self.n_layer
        per_block = 12 * d * d + 13 * d  # qkv 3d^2+3d, proj d^2+d, mlp 8d^2+5d, two LayerNorms 4d
        n = L * per_block + 2 * d  # + final LayerNorm
        return n if non_embedding else n + self.vocab_size * d + self.n_ctx * d


HEAD_SIZE = 16
# Kaplan-style shapes (d_model grows with depth), head size 16; names give N rounded.
_SHAPES = [(32, 1), (48, 1), (48, 2), (64, 2), (96, 3), (128, 3), (160, 4), (224, 5)]


def _name(n: int) -> str:
    return f"n{n / 1e6:.1f}m".replace(".0m", "m") if n >= 1e6 else f"n{round(n / 1e3)}k"


LADDER: dict[str, GPTConfig] = {}
for _d, _l in _SHAPES:
    _cfg = GPTConfig(d_model=_d, n_layer=_l, n_head=_d // HEAD_SIZE)
    LADDER[_name(_cfg.n_params())] = _cfg


def flops_per_token(cfg: GPTConfig) -> dict[str, float]:
    """Training FLOPs per token, two ways (forward + backward = 3x forward).

    ``kaplan``: 6 N (non-embedding), as in C = 6 N D. ``full``: also the output layer
    (6 d V), the embedding lookups (free) and attention's QK^T and AV (6 * 2 * n_layer * n_ctx * d,
    averaged over positions for causal attention would halve it; we count the full square as
    the fused kernel does).
    """
    n = cfg.n_params()
    return {
        "kaplan": 6.0 * n,
        "full": 6.0 * n + 6.0 * cfg.d_model * cfg.vocab_size + 12.0 * cfg.n_layer * cfg.n_ctx * cfg.d_model,
    }
