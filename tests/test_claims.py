import numpy as np
import pandas as pd

from test_fitting import world
from transfer_laws.analysis import claims


def test_ledger_on_a_planted_world():
    w = world(seed=7)
    w = pd.concat([w, w[w.curriculum == "text"].assign(curriculum="mix")]).reset_index(drop=True)
    w["run_id"] = [f"r{i}" for i in range(len(w))]
    w["phase"], w["pretrain_id"] = "target", None
    curves = pd.DataFrame([{"run_id": r.run_id, "flops_full": f, "val_loss": r.test_loss * (1 + 1 / f)}
                           for r in w.itertuples() for f in (1.0, 10.0, 100.0)])
    led = claims.ledger(w, w, curves, n_bootstrap=30)
    assert list(led.claim) == list(range(1, 9))
    v = led.set_index("claim").verdict
    assert v[1] == "reproduced" and v[2] == "reproduced"  # a planted power law with a shared beta
    assert v[3] == "inconclusive"  # identical text and mix: alpha intervals overlap
    assert v[4] == "not reproduced"  # planted beta 0.4 != 2 alpha = 0.6


def _world_with_ids():
    w = world(seed=7)
    w = pd.concat([w, w[w.curriculum == "text"].assign(curriculum="mix")]).reset_index(drop=True)
    w["run_id"] = [f"r{i}" for i in range(len(w))]
    w["phase"], w["experiment"], w["lr"] = "target", "main", 1e-3
    w["size"] = w.n_params.map(lambda n: f"s{n:g}")
    w["seed"] = w.groupby(["curriculum", "n_params", "d_train_chars"]).cumcount()
    w["pretrain_id"] = np.where(w.curriculum == "scratch", None, "p0")
    curves = pd.DataFrame([{"run_id": r.run_id, "flops_full": f, "val_loss": r.test_loss * (1 + 1 / f)}
                           for r in w.itertuples() for f in (1.0, 10.0, 100.0)])
    return w, curves


def test_ossification_verdict_checks_the_learning_rate_experiment():
    """A planted ossified cell is 'reproduced' until a rerun at the from-scratch learning rate beats
    from scratch there; then the ledger calls it a learning-rate effect."""
    w, curves = _world_with_ids()
    n0 = w.n_params.min()
    d_max = w[w.curriculum != "scratch"].d_train_chars.max()
    scratch_at = w[(w.curriculum == "scratch") & (w.n_params == n0) & (w.d_train_chars == d_max)].test_loss.mean()
    cell = (w.n_params == n0) & (w.curriculum == "text") & (w.d_train_chars == d_max)
    w.loc[cell, "test_loss"] = scratch_at + 0.3
    v = claims.ledger(w, w, curves, n_bootstrap=10).set_index("claim").verdict
    assert v[6] == "reproduced"
    rerun = w[cell & (w.seed == 0)].assign(experiment="finetune-lr", lr=3e-3, test_loss=scratch_at - 0.05, run_id="lr0")
    led = claims.ledger(w, pd.concat([w, rerun]), curves, n_bootstrap=10).set_index("claim")
    assert led.verdict[6].startswith("not reproduced (a learning-rate effect")
    assert "at the from-scratch learning rate -0.050 nats" in led.loc[6, "measured here"]
