"""Coverage of the hierarchical bootstrap's intervals on planted worlds drawn from a model that is
*not* the bootstrap's own (issue 19): each world has three pre-training checkpoints per size whose
D_T is scaled by a log-normal multiplier, from-scratch curves with a flat start (the smallest
models learn only unigram statistics at the smallest D), a Kaplan-like bend into the plateau instead
of E + B D^-b, fine-tunes whose D_T is censored at the plateau (D_T <= 0 rows stay in the table),
and Gaussian noise on the loss. The bootstrap never sees the multiplier's spread: it estimates it
from the checkpoints' scatter, pooled across sizes."""

import numpy as np
import pandas as pd
import pytest

from transfer_laws.analysis.fitting import fit_transfer

K, ALPHA, BETA = 30.0, 0.35, 0.35
NS = np.array([1e4, 3e4, 1e5, 3e5, 1e6, 3e6])
CHECKPOINT_SD = 0.25  # sd of log D_T between pre-training checkpoints (the pilot's n57k pair moved it ~2x)


def scratch_loss(n, d):
    """Kaplan-like L(N, D) with a flat start: min(flat, (a N^-x + b D^-y)^z)."""
    curve = ((4e4 / n) ** 0.45 + (3e5 / d) ** 0.5) ** 0.22 * 2.2
    flat = 2.2 * 3.0 ** 0.22 * 1.6  # the unigram-like plateau at the smallest D
    return np.minimum(curve, flat)


# the second curriculum of the two-curriculum worlds: closer to Python (higher k, lower alpha), the same beta
K_MIX, ALPHA_MIX, BETA_MIX = 300.0, 0.2, 0.35


def planted_world(seed: int, noise: float = 0.006, checkpoints: int = 3, mix: bool = False) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    laws = [("text", K, ALPHA, BETA)] + ([("mix", K_MIX, ALPHA_MIX, BETA_MIX)] if mix else [])
    for n in NS:
        for d in np.logspace(3, 9, 13):
            rows.append({"curriculum": "scratch", "n_params": n, "d_train_chars": d, "pretrain_id": None,
                         "test_loss": scratch_loss(n, d) * np.exp(rng.normal(0, noise))})
        for cur, k, alpha, beta in laws:
            for p in range(checkpoints):
                m = np.exp(rng.normal(0, CHECKPOINT_SD))
                for d in np.logspace(3, 6, 7):
                    d_e = d + k * d ** alpha * n ** beta * m
                    rows.append({"curriculum": cur, "n_params": n, "d_train_chars": d, "pretrain_id": f"{cur}-{n:g}-{p}",
                                 "test_loss": scratch_loss(n, d_e) * np.exp(rng.normal(0, noise))})
    return pd.DataFrame(rows)


def test_planted_world_runs_through_the_hierarchical_bootstrap():
    fit = fit_transfer(planted_world(0), "text", n_bootstrap=30, seed=0)
    assert fit.levels["checkpoints"] == len(NS) * 3
    assert fit.levels["checkpoint_level"] == "parametric, pooled"
    for name in ("alpha", "beta"):  # the point lies inside its own interval
        lo, hi = fit.ci95[name]
        assert lo <= getattr(fit, name) <= hi
        assert fit.diagnostics["interval_kind"][name] in ("percentile", "basic")
        assert all(e >= 0 for e in fit.diagnostics["mc_error"][name])


N_WORLDS = 100
N_DRAWS = 100  # per world: a percentile interval from fewer draws is itself narrower than nominal


def on_target(coverage: float) -> bool:
    """The target, 90-98% for nominal 95% intervals, read on 100 worlds. Below 90% (too narrow: the
    dangerous side) fails outright. Above, one world of slack: a share of 100 worlds has a binomial
    error of 0.016, and intervals whose true coverage is 0.975 show 99 of 100 in 28% of test runs.
    100 of 100 fails (as the primary alpha interval did, about 3x too wide, before amendment 5)."""
    return 0.90 <= coverage and round(coverage * N_WORLDS) <= round(0.98 * N_WORLDS) + 1


def measured_coverage(method: str, n_worlds: int = N_WORLDS) -> dict:
    """The share of ``n_worlds`` planted worlds whose 95% intervals (``N_DRAWS`` replicates each) cover the true
    alpha and beta, and the share of points inside their own intervals."""
    hits = {"alpha": 0, "beta": 0}
    inside = 0
    for s in range(n_worlds):
        fit = fit_transfer(planted_world(1000 + s), "text", n_bootstrap=N_DRAWS, seed=s, method=method)
        for name, truth in (("alpha", ALPHA), ("beta", BETA)):
            lo, hi = fit.ci95[name]
            hits[name] += lo <= truth <= hi
            inside += lo <= getattr(fit, name) <= hi
    out = {k: v / n_worlds for k, v in hits.items()} | {"points_inside": inside / (2 * n_worlds)}
    print(f"measured coverage of 95% intervals over {n_worlds} worlds ({method} method): {out}")
    return out


_MEASURED: dict = {}  # method -> its coverage, computed once per test session


def coverage_of(method: str) -> dict:
    """``measured_coverage`` on the 100 worlds, once per method (direct about 2, loss about 3 minutes)."""
    if method not in _MEASURED:
        _MEASURED[method] = measured_coverage(method)
    return _MEASURED[method]


@pytest.mark.slow
@pytest.mark.parametrize("method", ["direct", "loss"])
def test_points_lie_inside_their_intervals(method):
    assert coverage_of(method)["points_inside"] == 1.0


@pytest.mark.slow
@pytest.mark.parametrize("method", ["direct", "loss"])
def test_beta_coverage(method):
    """Measured 2026-12-03 (this seed sequence, 100 draws per world): direct 0.93, loss 0.96."""
    assert on_target(coverage_of(method)["beta"]), coverage_of(method)


@pytest.mark.slow
@pytest.mark.parametrize("method", [
    pytest.param("direct", marks=pytest.mark.xfail(
        strict=False, reason="the cross-check method: measured alpha coverage 0.91 on 2026-12-03 (100 draws per "
                             "world), at the edge of the 90% target: its censoring of D_T <= 0 biases alpha up "
                             "(mean 0.357 for 0.35); not strict, because a borderline world may flip on another "
                             "CPU's floating point")),
    "loss"])
def test_alpha_coverage(method):
    """Measured 2026-12-03 (100 draws per world): loss (primary) 0.92, direct 0.91. Before amendment 5 of the
    analysis plan the loss method's interval was about 3x too wide (coverage 1.00)."""
    assert on_target(coverage_of(method)["alpha"]), coverage_of(method)


@pytest.fixture(scope="module")
def coverage_beta_difference():
    """beta_text - beta_mix (claim 2) by the primary method on 100 two-curriculum worlds (true difference
    0; ``N_DRAWS`` replicates each, both curricula refitted in every replicate)."""
    from transfer_laws.analysis.fitting import shared_beta_test

    hits, inside = 0, 0
    for s in range(N_WORLDS):
        sb = shared_beta_test(planted_world(2000 + s, mix=True), ("text", "mix"), n_bootstrap=N_DRAWS, seed=s,
                              method="loss")
        lo, hi = sb.ci95
        hits += lo <= BETA - BETA_MIX <= hi
        inside += lo <= sb.beta_difference <= hi
    out = {"beta_difference": hits / N_WORLDS, "points_inside": inside / N_WORLDS}
    print(f"measured coverage of 95% intervals of beta_text - beta_mix over {N_WORLDS} worlds (loss method): {out}")
    return out


@pytest.mark.slow
def test_beta_difference_coverage(coverage_beta_difference):
    """Measured 2026-12-03 (this seed sequence, 100 draws per world): 0.99, every point inside its interval
    (about 4 minutes). Each curriculum's beta interval is about 14% wider than the spread of beta over
    worlds (the checkpoint spread drawn with its own uncertainty on 12 degrees of freedom), which puts
    the difference's expected coverage near 0.975; 0.98 before amendment 5."""
    assert on_target(coverage_beta_difference["beta_difference"]), coverage_beta_difference
