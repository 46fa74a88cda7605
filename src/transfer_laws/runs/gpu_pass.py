"""Summary of a packed GPU pass: per-size throughput and model FLOPs utilisation of the runs that
ran concurrently, and the aggregate utilisation over the pass's wall time.

``python -m transfer_laws gpu-pass RESULTS_DIR WALL_SECONDS BENCH_CSV OUT_CSV``
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from transfer_laws import runs


def summary(results: Path, wall_seconds: float, ceiling_flops_per_s: float) -> pd.DataFrame:
    """Per size and for the whole packed pass, over the target runs this pass made."""
    new_ids = {p.stem for p in (Path(results) / "runs").glob("*.json")} - _payload_ids(results)
    recs = [r for r in runs.load_records(results) if r["spec"]["phase"] == "target"
            and r["run_id"] in new_ids]
    if not recs:
        return pd.DataFrame()
    df = pd.DataFrame([{"size": r["spec"]["size"], "n_params": r["n_params"], "tokens": r["tokens_seen"],
                        "flops_full": r["flops_full"], "wall_seconds": r["wall_seconds"]} for r in recs])
    per = df.groupby(["size", "n_params"], as_index=False).agg(runs=("tokens", "size"), tokens=("tokens", "sum"),
                                                               flops_full=("flops_full", "sum"),
                                                               run_seconds=("wall_seconds", "sum"))
    per["tokens_per_s_per_run"] = per.tokens / per.run_seconds
    per["mfu_per_run"] = per.flops_full / per.run_seconds / ceiling_flops_per_s
    total = pd.DataFrame([{"size": "all (packed)", "n_params": float("nan"), "runs": len(df), "tokens": df.tokens.sum(),
                           "flops_full": df.flops_full.sum(), "run_seconds": wall_seconds,
                           "tokens_per_s_per_run": df.tokens.sum() / wall_seconds,
                           "mfu_per_run": df.flops_full.sum() / wall_seconds / ceiling_flops_per_s}])
    out = pd.concat([per, total], ignore_index=True)
    out["ceiling_flops_per_s"] = ceiling_flops_per_s
    return out


def _payload_ids(results: Path) -> set[str]:
    """Records that came with the payload (pre-training runs), not made by this pass."""
    marker = Path(results) / "payload_runs.txt"
    return set(marker.read_text().split()) if marker.exists() else set()
