"""Rohin Shah's back-of-the-envelope timelines calculation, rebuilt with every assumption named.

Known of his text (PAPER.md section 6): the law D_T = 19,000 D_F^0.18 N^0.38 is assumed to relate
a short-horizon pre-training task to a long-horizon transformative task; the long task's horizon
is 7 orders of magnitude longer; from-scratch compute of the long task is compared with
pre-training on the short task plus fine-tuning on fewer long-horizon samples; conclusion:
transfer reduces compute, but not by much.

Reconstruction (ours): N ~ 1e14 parameters (bio-anchors' brain-sized model), D_E ~ 1e13 samples
(Kaplan-style data scaling), training compute = 6 N x samples x horizon, the unit of D, and the
pre-training data amount. The units matter: the paper's D is in characters; if one sample is u
characters, the law in samples has k_samples = k_chars * u**(alpha - 1).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace

import numpy as np
import pandas as pd

from transfer_laws.analysis.laws import PAPER_MIX, PAPER_TEXT, solve_d_finetune


@dataclass(frozen=True)
class Assumptions:
    n_params: float = 1e14  # bio-anchors: a brain-sized model (Cotra 2020) -- reconstruction
    d_effective_samples: float = 1e13  # long-horizon samples needed from scratch (Kaplan-style) -- reconstruction
    k: float = PAPER_TEXT.k  # Hernandez+21 Table 1, text -> Python, D in characters
    alpha: float = PAPER_TEXT.alpha
    beta: float = PAPER_TEXT.beta
    horizon_ratio: float = 1e7  # long task's horizon / pre-training task's (Rohin: 7 OOM; bio-anchors range 9)
    chars_per_sample: float = 1.0  # u: characters per "sample"; Rohin's use implies u = 1 -- reconstruction
    d_pretrain_samples: float = 1e13  # short-horizon pre-training samples -- reconstruction

    def k_in_samples(self) -> float:
        """The law's k when D counts samples of u characters: k * u**(alpha - 1)."""
        return self.k * self.chars_per_sample ** (self.alpha - 1.0)


SOURCES = {
    "n_params": "Cotra 2020 (bio-anchors): ~1e14 parameters for a brain-sized model; reconstruction",
    "d_effective_samples": "reconstruction: Kaplan-style data scaling for N = 1e14",
    "k, alpha, beta": "Hernandez et al. 2021, Table 1 (text -> Python), D in characters",
    "horizon_ratio": "Rohin Shah's comment: 7 orders of magnitude (bio-anchors' range spans 9)",
    "chars_per_sample": "reconstruction: the law is in characters; Rohin's use implies 1 character per sample",
    "d_pretrain_samples": "reconstruction: as many short-horizon samples as the long task's D_E",
}


def compute_saving(a: Assumptions) -> dict:
    """Solve D_F + k D_F^alpha N^beta = D_E (in samples) and compare compute.

    scratch  = 6 N D_E H
    transfer = 6 N (D_pretrain * 1 + D_F * H)
    """
    k = a.k_in_samples()
    d_f = solve_d_finetune(a.d_effective_samples, a.n_params, k, a.alpha, a.beta)
    scratch = 6 * a.n_params * a.d_effective_samples * a.horizon_ratio
    transfer = 6 * a.n_params * (a.d_pretrain_samples + d_f * a.horizon_ratio)
    # at the solution D_T = D_E - D_F (D_F = 0: transfer alone reaches D_E)
    return {"d_finetune_samples": d_f, "d_transferred_samples": a.d_effective_samples - d_f,
            "data_saving": a.d_effective_samples / max(d_f, 1e-300), "compute_scratch_flops": scratch,
            "compute_transfer_flops": transfer, "compute_saving": scratch / transfer}


def compute_cut_percent(saving):
    """How much transfer cuts the compute, in percent of the from-scratch compute: 100 (1 - 1/saving).
    A saving of 1.09 is a cut of 8.3%; one of 1.00001 (which prints as 1.00×) a cut of 0.001%; a
    saving below 1 (pre-training costs more than transfer saves) a negative cut."""
    return 100.0 * (1.0 - 1.0 / np.asarray(saving, dtype=float))


def sensitivity(base: Assumptions = Assumptions()) -> pd.DataFrame:
    """The saving as each assumption moves alone over a plausible range."""
    grid = {
        "n_params": [1e12, 1e13, 1e14, 1e15, 1e16],
        "d_effective_samples": [1e11, 1e12, 1e13, 1e14, 1e15],
        "horizon_ratio": [1e5, 1e6, 1e7, 1e8, 1e9],
        "chars_per_sample": [1, 10, 100, 1000, 10000],
        "d_pretrain_samples": [1e11, 1e13, 1e15, 1e17, 1e19],
    }
    rows = []
    for name, values in grid.items():
        for v in values:
            r = compute_saving(replace(base, **{name: float(v)}))
            rows.append({"assumption": name, "value": v, "d_finetune_samples": r["d_finetune_samples"],
                         "data_saving": r["data_saving"], "compute_saving": r["compute_saving"]})
    for label, law in (("text (paper)", PAPER_TEXT), ("mix (paper)", PAPER_MIX)):
        r = compute_saving(replace(base, k=law.k, alpha=law.alpha, beta=law.beta))
        rows.append({"assumption": "constants", "value": label, "d_finetune_samples": r["d_finetune_samples"],
                     "data_saving": r["data_saving"], "compute_saving": r["compute_saving"]})
    return pd.DataFrame(rows)


def slider_grid(base: Assumptions = Assumptions()) -> pd.DataFrame:
    """Precomputed savings for the interactive chart: x = D_E, sliders over log10 N, log10 u and
    the constants (the solve is not closed-form, so the browser filters a grid)."""
    rows = []
    for label, law in (("text", PAPER_TEXT), ("mix", PAPER_MIX)):
        for log_n in range(11, 17):
            for log_u in range(0, 5):
                for d_e in np.logspace(9, 16, 29):
                    a = replace(base, k=law.k, alpha=law.alpha, beta=law.beta, n_params=10.0**log_n,
                                chars_per_sample=10.0**log_u, d_effective_samples=float(d_e))
                    r = compute_saving(a)
                    rows.append({"constants": label, "log10_n": log_n, "log10_u": log_u, "d_effective": d_e,
                                 "data_saving": r["data_saving"], "compute_saving": r["compute_saving"]})
    return pd.DataFrame(rows)


def alpha_crossover_sensitivity() -> pd.DataFrame:
    """Rohin's crossover D_F = (k_mix/k_text)^(1/(alpha_text - alpha_mix)) as the printed constants
    move within their rounding (k to 2 significant figures, alpha to the last printed digit)."""
    rows = []
    for k_t in (1.85e4, 1.9e4, 1.95e4):
        for k_m in (2.05e5, 2.1e5, 2.15e5):
            for a_t in (0.175, 0.18, 0.185):
                for a_m in (0.0955, 0.096, 0.0965):
                    rows.append({"k_text": k_t, "k_mix": k_m, "alpha_text": a_t, "alpha_mix": a_m,
                                 "crossover_chars": (k_m / k_t) ** (1 / (a_t - a_m))})
    return pd.DataFrame(rows)


LABELS = {"n_params": "N: parameters of the transformative model", "d_effective_samples": "D_E: long-horizon samples "
          "needed from scratch", "k": "k", "alpha": "α", "beta": "β", "horizon_ratio": "horizon ratio (long / short task)",
          "chars_per_sample": "u: characters per sample", "d_pretrain_samples": "short-horizon pre-training samples"}


def assumptions_table(a: Assumptions = Assumptions()) -> pd.DataFrame:
    """Every assumption with a readable name (``parameter`` keeps the field's name), value and source."""
    d = asdict(a)
    src = {**{k: SOURCES["k, alpha, beta"] for k in ("k", "alpha", "beta")}, **SOURCES}
    return pd.DataFrame([{"parameter": k, "assumption": LABELS.get(k, k), "value": v, "source": src.get(k, "")}
                         for k, v in d.items()])


def with_fitted_constants(fits: dict, measured_n_params, base: Assumptions = Assumptions()) -> pd.DataFrame:
    """The calculation with measured constants in place of the paper's: one row per fitted
    curriculum (``fits``: name -> TransferFit, D in characters), with the saving's 95% range over
    the fit's bootstrap draws, and how many decades of N lie between the largest measured model
    (``measured_n_params``) and the assumed N. The paper's rows are given beside them (their
    extrapolation distance is left blank: the paper's constants come without its N range)."""
    n_max = float(np.max(measured_n_params))
    rows = []
    for name, law in (("paper, text", PAPER_TEXT), ("paper, mix", PAPER_MIX)):
        r = compute_saving(replace(base, k=law.k, alpha=law.alpha, beta=law.beta))
        rows.append({"constants": name, "k": law.k, "alpha": law.alpha, "beta": law.beta,
                     "d_finetune_samples": r["d_finetune_samples"], "compute_saving": r["compute_saving"],
                     "saving_ci95_low": np.nan, "saving_ci95_high": np.nan,
                     "decades_of_n_extrapolated": np.nan})  # the paper's N range is not in its Table 1
    for name, f in fits.items():
        r = compute_saving(replace(base, k=f.k, alpha=f.alpha, beta=f.beta))
        draws = [] if f.draws is None else [
            compute_saving(replace(base, k=float(np.exp(lk)), alpha=float(a), beta=float(b)))["compute_saving"]
            for lk, a, b in f.draws]
        lo, hi = np.percentile(draws, [2.5, 97.5]) if len(draws) >= 10 else (np.nan, np.nan)
        rows.append({"constants": f"this book, {name}", "k": f.k, "alpha": f.alpha, "beta": f.beta,
                     "d_finetune_samples": r["d_finetune_samples"], "compute_saving": r["compute_saving"],
                     "saving_ci95_low": lo, "saving_ci95_high": hi,
                     "decades_of_n_extrapolated": np.log10(base.n_params / n_max)})
    return pd.DataFrame(rows)
