import numpy as np
import pandas as pd

from test_fitting import world
from transfer_laws import claims


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
