"""A small GPT decoder in one file (nanoGPT-shaped), and the named size ladder.

LayerNorm -> CausalSelfAttention -> MLP -> Block -> GPTConfig -> GPT. Learned positional
embeddings, pre-LayerNorm blocks, causal attention through ``scaled_dot_product_attention``,
GELU MLP (4x), input and output embeddings tied. Imports torch only.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import torch
import torch.nn as nn
import torch.nn.functional as F


class CausalSelfAttention(nn.Module):
    def __init__(self, cfg: "GPTConfig"):
        super().__init__()
        assert cfg.d_model % cfg.n_head == 0
        self.n_head = cfg.n_head
        self.qkv = nn.Linear(cfg.d_model, 3 * cfg.d_model)
        self.proj = nn.Linear(cfg.d_model, cfg.d_model)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, T, C = x.shape
        q, k, v = self.qkv(x).split(C, dim=2)  # 3 x (B, T, C)
        q, k, v = (t.view(B, T, self.n_head, C // self.n_head).transpose(1, 2) for t in (q, k, v))  # (B, nh, T, hs)
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True)  # (B, nh, T, hs)
        return self.proj(y.transpose(1, 2).contiguous().view(B, T, C))


class MLP(nn.Module):
    def __init__(self, cfg: "GPTConfig"):
        super().__init__()
        self.fc = nn.Linear(cfg.d_model, 4 * cfg.d_model)
        self.out = nn.Linear(4 * cfg.d_model, cfg.d_model)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(F.gelu(self.fc(x)))


class Block(nn.Module):
    def __init__(self, cfg: "GPTConfig"):
        super().__init__()
        self.ln1 = nn.LayerNorm(cfg.d_model)
        self.attn = CausalSelfAttention(cfg)
        self.ln2 = nn.LayerNorm(cfg.d_model)
        self.mlp = MLP(cfg)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.ln1(x))  # pre-LayerNorm residual blocks (GPT-2)
        return x + self.mlp(self.ln2(x))


@dataclass(frozen=True)
class GPTConfig:
    d_model: int = 64
    n_layer: int = 2
    n_head: int = 4  # head size d_model / n_head = 16 across the ladder
    vocab_size: int = 1024  # the committed tokenizer's vocabulary
    n_ctx: int = 128  # context length in tokens (~400 characters of Python)

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


class GPT(nn.Module):
    def __init__(self, cfg: GPTConfig):
        super().__init__()
        self.cfg = cfg
        self.wte = nn.Embedding(cfg.vocab_size, cfg.d_model)
        self.wpe = nn.Embedding(cfg.n_ctx, cfg.d_model)
        self.blocks = nn.ModuleList(Block(cfg) for _ in range(cfg.n_layer))
        self.ln_f = nn.LayerNorm(cfg.d_model)
        self.apply(self._init)
        for name, p in self.named_parameters():  # GPT-2: scale residual projections by depth
            if name.endswith("proj.weight") or name.endswith("out.weight"):
                nn.init.normal_(p, mean=0.0, std=0.02 / math.sqrt(2 * cfg.n_layer))

    @staticmethod
    def _init(m: nn.Module) -> None:
        if isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, mean=0.0, std=0.02)
            nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Embedding):
            nn.init.normal_(m.weight, mean=0.0, std=0.02)

    def n_params(self, non_embedding: bool = True) -> int:
        n = sum(p.numel() for p in self.parameters())
        return n - self.wte.weight.numel() - self.wpe.weight.numel() if non_embedding else n

    def forward(self, idx: torch.Tensor, targets: torch.Tensor | None = None, reduction: str = "mean"):
        """idx (B, T) token ids -> logits (B, T, vocab); with targets, also the loss in nats/token."""
        B, T = idx.shape
        pos = torch.arange(T, device=idx.device)
        x = self.wte(idx) + self.wpe(pos)  # (B, T, C)
        for block in self.blocks:
            x = block(x)
        logits = self.ln_f(x) @ self.wte.weight.T  # tied output layer, (B, T, vocab)
        if targets is None:
            return logits, None
        loss = F.cross_entropy(logits.float().view(-1, logits.size(-1)), targets.reshape(-1), reduction=reduction)
        return logits, loss


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
