"""Pre-training checkpoints: weights only, safetensors, float16, committed under results/checkpoints.

Fine-tunes load them (weights only, never pickles) into a float32 model, so every fine-tune,
on any machine, starts from exactly the committed weights. float16 halves the size against
float32 (the whole ladder's text and mix checkpoints stay under ~40 MB); the rounding
(relative 5e-4) is far below the differences the study measures.
"""

from __future__ import annotations

from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from transfer_laws import runs
from transfer_laws.train.model import GPT

STORE_DTYPE = torch.float16


def save(model: GPT, run_id: str, root: Path | None = None) -> Path:
    path = runs.checkpoint_path(run_id, root)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().to("cpu", STORE_DTYPE).contiguous() for k, v in model.state_dict().items()}
    tmp = path.with_name(f".{path.name}.tmp")
    save_file(state, str(tmp), metadata={"run_id": run_id, "dtype": str(STORE_DTYPE)})
    tmp.replace(path)
    return path


def load_into(model: GPT, run_id: str, root: Path | None = None) -> None:
    path = runs.checkpoint_path(run_id, root)
    if not path.exists():
        raise FileNotFoundError(f"missing pre-training run {run_id}: no checkpoint at {path}")
    state = load_file(str(path))
    # a downstream model's classification head is new (zero-initialised): the only keys it may lack
    missing, unexpected = model.load_state_dict({k: v.to(torch.float32) for k, v in state.items()}, strict=False)
    if unexpected or any(not k.startswith("head.") for k in missing):
        raise RuntimeError(f"checkpoint {run_id} does not fit the model: missing {missing}, unexpected {unexpected}")
