"""Joint from-scratch laws (issue 21): a Chinchilla world built from Hoffmann et al.'s published
constants over their range of N and D, and a Kaplan world from Kaplan et al.'s, are recovered
inside their bootstrap intervals, through the package and through `fit --law`."""

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from transfer_laws.analysis import joint, laws

HOFFMANN = {"E": 1.69, "A": 406.4, "B": 410.7, "alpha": 0.34, "beta": 0.28}  # Hoffmann et al. 2022, eq. 10


def chinchilla_world(n_runs=150, noise=0.005, seed=0):
    """N from 7e7 to 1.6e10 parameters, D from 5e9 to 5e11 tokens (Hoffmann et al.'s range)."""
    rng = np.random.default_rng(seed)
    n = 10 ** rng.uniform(np.log10(7e7), np.log10(1.6e10), n_runs)
    d = 10 ** rng.uniform(np.log10(5e9), np.log10(5e11), n_runs)
    loss = laws.chinchilla_loss(n, d, HOFFMANN["E"], HOFFMANN["A"], HOFFMANN["B"], HOFFMANN["alpha"], HOFFMANN["beta"])
    return pd.DataFrame({"n_params": n, "d_tokens": d, "loss": loss * np.exp(rng.normal(0, noise, n_runs))})


def test_the_grid_is_the_published_one():
    assert len(joint.start_grid("chinchilla")) == 4500


def test_chinchilla_world_recovered():
    w = chinchilla_world()
    f = joint.fit_law(w.n_params, w.d_tokens, w.loss, "chinchilla", n_bootstrap=40, seed=1)
    for name in ("E", "alpha", "beta"):
        lo, hi = f.ci95[name]
        assert lo <= HOFFMANN[name] <= hi, (name, lo, f.params[name], hi)
        assert lo <= f.params[name] <= hi
    assert f.params["E"] == pytest.approx(1.69, rel=0.02)
    rel = np.abs(f.loss(w.n_params, w.d_tokens) / w.loss.to_numpy() - 1)
    assert np.median(rel) < 0.006 and rel.max() < 0.03  # the planted noise is 0.5% (log-normal)


def test_kaplan_world_recovered():
    rng = np.random.default_rng(2)
    n, d = 10 ** rng.uniform(4, 9, 150), 10 ** rng.uniform(7, 10, 150)
    loss = laws.kaplan_loss(n, d) * np.exp(rng.normal(0, 0.003, 150))
    f = joint.fit_law(n, d, loss, "kaplan")
    assert f.params["alpha_N"] == pytest.approx(laws.KAPLAN["alpha_n"], rel=0.05)
    assert f.params["alpha_D"] == pytest.approx(laws.KAPLAN["alpha_d"], rel=0.05)


def test_the_size_term_is_measured_and_an_unpinned_exponent_is_said():
    w = chinchilla_world()
    f = joint.fit_law(w.n_params, w.d_tokens, w.loss, "chinchilla")
    e = joint.size_effect(f, w.n_params, w.d_tokens)
    true_gap = HOFFMANN["A"] * (w.n_params.min() ** -0.34 - w.n_params.max() ** -0.34)
    assert e["identified"] and e["loss_gap_nats"] == pytest.approx(true_gap, rel=0.1)
    assert e["decades_of_n"] == pytest.approx(np.log10(w.n_params.max() / w.n_params.min()))
    # sizes that do not differ: no exponent to read, a gap near zero
    rng = np.random.default_rng(3)
    n, d = np.repeat([1e4, 2e4, 4e4], 8), np.tile(np.logspace(3, 6, 8), 3)
    flat = joint.fit_law(n, d, (2 + 40 * d ** -0.3) * np.exp(rng.normal(0, 0.003, 24)), "chinchilla")
    e = joint.size_effect(flat, n, d)
    assert abs(e["loss_gap_nats"]) < 0.02
    assert e["identified"] == (0 < flat.params["alpha"] <= joint.MAX_IDENTIFIED_N_EXPONENT)


def test_degenerate_inputs_are_errors():
    with pytest.raises(ValueError, match="more than one N"):
        joint.fit_law([1e6] * 8, np.logspace(6, 8, 8), np.linspace(3, 2, 8))
    with pytest.raises(ValueError, match="unknown law"):
        joint.fit_law([1e6, 1e7], [1e6, 1e7], [3, 2], "power")


def _fit(*args):
    return subprocess.run([sys.executable, "-m", "transfer_laws", "fit", *map(str, args)], capture_output=True, text=True)


def test_fit_law_command(tmp_path):
    w = chinchilla_world(n_runs=120, seed=3)
    # three wild runs at the highest losses: --exclude-highest leaves them out
    wild = w.head(3).assign(loss=50.0)
    table = pd.concat([w, wild]).assign(curriculum="scratch", test_loss=lambda d: d.loss)
    p = tmp_path / "runs.csv"
    table.to_csv(p, index=False)
    r = _fit(p, "--law", "chinchilla", "--d-column", "d_tokens", "--exclude-highest", 3, "--bootstrap", 20, "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["n_points"] == 120 and out["excluded_highest"] == 3
    assert set(HOFFMANN) <= set(out) and set(out["ci95"]) == set(HOFFMANN)
    assert out["alpha"] == pytest.approx(0.34, abs=0.03) and out["beta"] == pytest.approx(0.28, abs=0.03)
    assert out["size_effect"]["identified"] and out["size_effect"]["loss_gap_nats"] > 0
    bad = _fit(p, "--law", "chinchilla")  # no d_train_chars column in this table
    assert bad.returncode == 2 and bad.stderr.strip() == f"error: {p}: missing column 'd_train_chars'"
    assert "single-epoch" in _fit("--help").stdout
