"""``python -m transfer_laws bench``: plain PyTorch loop against the Lightning trainer, same model
and data, in one process; achieved FLOP/s against a matrix-multiply ceiling measured on the spot."""

from __future__ import annotations

import time
import warnings

import lightning as L
import numpy as np
import pandas as pd
import torch

from transfer_laws.train.model import GPT, GPTConfig, flops_per_token
from transfer_laws.train.loop import LitGPT, WindowStream, make_trainer

BENCH_SIZES = ("n28k", "n336k", "n3m")
BATCH, N_CTX = 32, 128


def matmul_ceiling(device: str = "cpu", n: int = 1024, seconds: float = 2.0) -> float:
    """FLOP/s of square float32 (CPU) or bf16 (CUDA) matrix multiplies, best of a few timed loops."""
    dtype = torch.bfloat16 if device == "cuda" else torch.float32
    a = torch.randn(n, n, device=device, dtype=dtype)
    b = torch.randn(n, n, device=device, dtype=dtype)
    best = 0.0
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        reps = 8
        _sync(device)
        t = time.perf_counter()
        for _ in range(reps):
            a @ b
        _sync(device)
        best = max(best, reps * 2 * n**3 / (time.perf_counter() - t))
    return best


def _sync(device):
    if device == "cuda":
        torch.cuda.synchronize()


def _train_tokens(data) -> np.ndarray:
    return np.asarray(data.array("python", "train").tokens[:2_000_000])


def plain_loop_tokens_per_second(size: str, data, steps: int = 20, device: str = "cpu", warmup: int = 3) -> float:
    cfg = GPTConfig.from_name(size, vocab_size=data.vocab_size, n_ctx=N_CTX)
    torch.manual_seed(0)
    model = GPT(cfg).to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    it = iter(WindowStream([_train_tokens(data)], [1.0], BATCH, N_CTX, seed=0))
    amp = torch.autocast(device, dtype=torch.bfloat16, enabled=device == "cuda")
    for i in range(warmup + steps):
        if i == warmup:
            _sync(device)
            t = time.perf_counter()
        x, y = (v.to(device) for v in next(it))
        with amp:
            _, loss = model(x, y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
    _sync(device)
    return steps * BATCH * N_CTX / (time.perf_counter() - t)


class _Timer(L.Callback):
    def __init__(self, warmup):
        self.warmup, self.t0, self.t1 = warmup, None, None

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        if batch_idx == self.warmup:
            _sync(pl_module.device.type)
            self.t0 = time.perf_counter()

    def on_train_end(self, trainer, pl_module):
        _sync(pl_module.device.type)
        self.t1 = time.perf_counter()


def lightning_tokens_per_second(size: str, data, steps: int = 20, device: str = "cpu", warmup: int = 3) -> float:
    cfg = GPTConfig.from_name(size, vocab_size=data.vocab_size, n_ctx=N_CTX)
    torch.manual_seed(0)
    lit = LitGPT(GPT(cfg), 1e-3, warmup + steps, 1, 0.0)
    timer = _Timer(warmup)
    loader = torch.utils.data.DataLoader(WindowStream([_train_tokens(data)], [1.0], BATCH, N_CTX, seed=0), batch_size=None)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        make_trainer(device, warmup + steps, callbacks=[timer]).fit(lit, loader)
    return steps * BATCH * N_CTX / (timer.t1 - timer.t0)


def run_bench(data, sizes=BENCH_SIZES, steps: int = 20, device: str = "cpu", repeats: int = 2) -> pd.DataFrame:
    """Interleaved plain/Lightning measurements (best of ``repeats``), so machine noise hits both alike."""
    ceiling = matmul_ceiling(device, n=8192 if device == "cuda" else 1024)
    cpt = data.array("python", "train").chars_per_token
    rows = []
    for size in sizes:
        cfg = GPTConfig.from_name(size, vocab_size=data.vocab_size, n_ctx=N_CTX)
        plain = max(plain_loop_tokens_per_second(size, data, steps, device) for _ in range(repeats))
        lit = max(lightning_tokens_per_second(size, data, steps, device) for _ in range(repeats))
        fpt = flops_per_token(cfg)["full"]
        rows.append({"size": size, "n_params": cfg.n_params(), "n_params_total": cfg.n_params(False),
                     "plain_tokens_per_s": plain, "lightning_tokens_per_s": lit,
                     "plain_chars_per_s": plain * cpt, "lightning_chars_per_s": lit * cpt,
                     "lightning_over_plain": lit / plain, "flops_per_token_full": fpt,
                     "lightning_flops_per_s": lit * fpt, "matmul_ceiling_flops_per_s": ceiling,
                     "fraction_of_ceiling": lit * fpt / ceiling, "device": device,
                     "threads": torch.get_num_threads()})
    return pd.DataFrame(rows)
