"""A small GPT decoder in one file (nanoGPT-shaped); its config and the named ladder are in ``config``.

CausalSelfAttention -> MLP -> Block -> GPT. Learned positional
embeddings, pre-LayerNorm blocks, causal attention through ``scaled_dot_product_attention``,
GELU MLP (4x), input and output embeddings tied. Imports torch only. With ``n_classes`` the model
also has a classification head (downstream tasks): the final hidden states, mean-pooled over the
window, through one linear layer initialised at zero, so that every model, pre-trained or not,
starts at the uniform prediction (ln n_classes nats).
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from transfer_laws.train.config import HEAD_SIZE, LADDER, GPTConfig, flops_per_token  # noqa: F401  (re-exported)


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
        if cfg.n_classes:
            self.head = nn.Linear(cfg.d_model, cfg.n_classes)
            nn.init.zeros_(self.head.weight)
            nn.init.zeros_(self.head.bias)

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

    def hidden(self, idx: torch.Tensor) -> torch.Tensor:
        """idx (B, T) token ids -> final (LayerNormed) hidden states (B, T, C)."""
        B, T = idx.shape
        pos = torch.arange(T, device=idx.device)
        x = self.wte(idx) + self.wpe(pos)  # (B, T, C)
        for block in self.blocks:
            x = block(x)
        return self.ln_f(x)

    def forward(self, idx: torch.Tensor, targets: torch.Tensor | None = None, reduction: str = "mean"):
        """idx (B, T) token ids -> logits (B, T, vocab); with targets, also the loss in nats/token."""
        logits = self.hidden(idx) @ self.wte.weight.T  # tied output layer, (B, T, vocab)
        if targets is None:
            return logits, None
        loss = F.cross_entropy(logits.float().view(-1, logits.size(-1)), targets.reshape(-1), reduction=reduction)
        return logits, loss

    def classify(self, idx: torch.Tensor, labels: torch.Tensor | None = None, reduction: str = "mean"):
        """idx (B, T) -> class logits (B, n_classes) from the window's mean hidden state; with labels
        (B,), also the cross-entropy in nats/example."""
        logits = self.head(self.hidden(idx).mean(1))
        if labels is None:
            return logits, None
        return logits, F.cross_entropy(logits.float(), labels, reduction=reduction)

    def loss(self, x: torch.Tensor, y: torch.Tensor, reduction: str = "mean") -> torch.Tensor:
        """The training loss of a batch: next-token (y of shape (B, T)) or classification (labels (B,))."""
        return (self.classify(x, y, reduction) if y.dim() == 1 else self(x, y, reduction))[1]
