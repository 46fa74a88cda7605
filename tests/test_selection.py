"""The analysis refuses runs that fail their checks, each with its reason (issue 17)."""

import numpy as np
import pandas as pd

from transfer_laws import runs
from transfer_laws.runs import store
from transfer_laws.analysis import selection
from transfer_laws.runs.checks import checks


def _frame(**cols):
    n = len(next(iter(cols.values())))
    base = {"phase": ["target"] * n, "curriculum": ["mix"] * n, "unresolved": [False] * n, "zero_shot": [False] * n,
            "vs_checkpoint_nats": [None] * n, "vs_checkpoint_se": [None] * n}
    base.update(cols)
    return pd.DataFrame(base)


def test_each_failed_check_is_refused_with_its_reason():
    df = _frame(run_id=list("abcdef"),
                unresolved=[False, True, False, False, False, None],
                zero_shot=[False, False, True, False, False, None],
                vs_checkpoint_nats=[0.001, None, 0.0, 0.05, -0.2, None],
                vs_checkpoint_se=[0.01, None, 0.0, 0.01, 0.01, None],
                phase=["target"] * 5 + ["pretrain"])
    kept, refused = selection.checked_runs(df)
    assert list(kept.run_id) == ["a", "c", "e", "f"]  # within one SE, zero-shot kept, better, pre-training
    assert dict(zip(refused.run_id, refused.reason)) == {"b": "unresolved", "d": "worse_than_checkpoint"}
    kept2, refused2 = selection.checked_runs(df, with_zero_shot=False)
    assert "c" not in set(kept2.run_id) and refused2.set_index("run_id").reason["c"] == "zero_shot"
    counts = selection.exclusion_counts(refused2)
    assert counts.runs.sum() == 3 and set(counts.reason) == {"unresolved", "worse_than_checkpoint", "zero_shot"}


def test_first_grid_records_get_the_same_checks_from_their_curves():
    """Recipe-1 records carry no checks; the table applies the same rule to their stored curve."""
    curve = [{"step": s, "val_loss": v} for s, v in ((10, 5.0), (20, 5.1), (30, 5.2))]
    assert checks(curve, best_step=10)["unresolved"]  # best at the first evaluation
    records = runs.load_records()
    table = runs.runs_table(records)
    by_id = {r["run_id"]: r for r in records}
    first = table[(table.recipe == 1) & (table.phase == "target")]
    assert len(first) > 100
    for row in first.head(40).itertuples():
        r = by_id[row.run_id]
        steps = [p["step"] for p in r["curve"]]
        after0 = [s for s in steps if s > 0]
        assert row.unresolved == (r["best_step"] in (after0[0], steps[-1]))


def test_vs_checkpoint_is_paired_over_the_same_windows():
    rng = np.random.default_rng(0)
    shared = rng.normal(4.0, 1.0, 2048)
    pre = {"run_id": "p", "checkpoint_test_window_losses_nats": list(shared)}
    rec = {"test_window_losses_nats": list(shared - 0.01 + rng.normal(0, 0.01, 2048))}
    out = store._vs_checkpoint(rec, pre)
    assert abs(out["vs_checkpoint_nats"] + 0.01) < 0.002 and out["vs_checkpoint_se"] < 0.001
    assert store._vs_checkpoint(rec, {"checkpoint_test_window_losses_nats": list(shared[:512])})["vs_checkpoint_se"] is None


def test_converged_range_stops_at_the_first_unconverged_d():
    df = _frame(run_id=list("abcdefg"), curriculum=["scratch"] * 7, size=["s"] * 4 + ["t"] * 3,
                n_params=[1] * 4 + [2] * 3, d_train_chars=[1e3, 1e4, 1e5, 1e6, 1e3, 1e4, 1e5],
                unresolved=[False, False, True, False, True, False, False])
    out = selection.converged_range(df).set_index("size")
    assert out.loc["s", "d_converged_max_chars"] == 1e4 and out.loc["s", "d_above_converged"] == 2
    assert np.isnan(out.loc["t", "d_converged_max_chars"]) and out.loc["t", "d_above_converged"] == 3


def test_a_budget_stopped_scratch_run_still_improving_is_capped():
    """From scratch, ended on budget with its best in the last tenth: refused as capped, even where
    its best is not the last evaluation (so ``unresolved`` passes it); a fine-tune, or a budget stop
    long after its best, is not."""
    df = _frame(run_id=list("abcd"), curriculum=["scratch", "scratch", "mix", "scratch"],
                stop_reason=["budget", "budget", "budget", "converged"],
                best_step=[39918, 20000, 39918, 39918], steps=[40699, 40699, 40699, 40699])
    kept, refused = selection.checked_runs(df)
    assert dict(zip(refused.run_id, refused.reason)) == {"a": "capped"}
    assert list(kept.run_id) == ["b", "c", "d"]


def test_horizon_branches_keep_their_familys_best_and_a_longest_best_is_capped():
    """Horizon branches (wsd runs differing only in max_epochs): the best branch on validation stands
    for its family (the shorter on a tie), the others are refused as not_best_branch; a family whose
    best is its longest branch is capped, its shortest unresolved (the horizon not bracketed); a
    branch's own best at its last step is by design."""
    df = _frame(run_id=list("abcdefghi"), curriculum=["scratch"] * 9, size=["s"] * 9, n_params=[1] * 9,
                horizon_family=["F"] * 3 + ["G"] * 2 + [None] + ["H"] * 3,
                max_epochs=[25, 50, 100, 25, 50, 50, 12, 25, 50],
                d_train_chars=[1e5] * 3 + [1e6] * 3 + [1e4] * 3,
                val_loss=[3.0, 2.9, 2.95, 3.1, 3.0, 3.2, 4.0, 4.0, 4.2],
                unresolved=[True] * 5 + [False] + [True] * 3, stop_reason=["budget"] * 5 + ["converged"] + ["budget"] * 3,
                best_step=[100] * 9, steps=[100] * 9)
    kept, refused = selection.checked_runs(df)
    assert set(kept.run_id) == {"b", "f"}
    assert dict(zip(refused.run_id, refused.reason)) == {
        "a": "not_best_branch", "c": "not_best_branch", "d": "not_best_branch", "e": "capped",
        "g": "unresolved", "h": "not_best_branch", "i": "not_best_branch"}
    out = selection.converged_range(df).set_index("size")
    assert np.isnan(out.loc["s", "d_converged_max_chars"]), "the smallest D (family H) is unresolved"
    out = selection.converged_range(df[df.horizon_family != "H"]).set_index("size")
    assert out.loc["s", "d_converged_max_chars"] == 1e5 and out.loc["s", "d_above_converged"] == 1
    # a shortest branch that overfit before its end (best evaluation inside it) is bracketed by its
    # own evaluations: kept (the smallest D, where no shorter branch keeps enough steps)
    early = df.assign(best_step=[100] * 6 + [40, 100, 100])
    kept, refused = selection.checked_runs(early)
    assert set(kept.run_id) == {"b", "f", "g"} and "g" not in set(refused.run_id)


def test_a_reason_reads_as_words_in_a_table():
    from transfer_laws.analysis.selection import REASONS, label

    assert label("not_best_branch") == "not the best branch" and label("capped") == "capped"
    assert label("") == "" and label(float("nan")) == ""
    assert all("_" not in label(r) for r in REASONS)


def test_a_run_that_diverged_from_its_start_is_refused_as_diverged():
    """Best at step 0 and then far above it (a rate too high) is ``diverged``, refused before any other
    reason; a zero-shot run that only drifted up a little and a run that overfit after improving are
    not."""
    from transfer_laws.runs.checks import DIVERGED_NATS, diverged

    up = [{"step": s, "val_loss": v} for s, v in [(0, 3.5), (1, 4.0), (2, 5.3), (3, 6.0)]]
    drift = [{"step": s, "val_loss": v} for s, v in [(0, 3.5), (1, 3.52), (2, 3.6), (3, 3.7)]]
    overfit = [{"step": s, "val_loss": v} for s, v in [(0, 6.9), (5, 5.0), (9, 7.5), (14, 9.4)]]
    blown = [{"step": 0, "val_loss": 3.5}, {"step": 1, "val_loss": float("nan")}]
    assert diverged(up, 0) and diverged(blown, 0) and checks(up, best_step=0)["diverged"]
    assert not diverged(drift, 0) and not diverged(overfit, 5) and not diverged([], 0)
    assert 3.5 + DIVERGED_NATS < 5.3  # the planted rise clears the threshold
    df = _frame(run_id=list("abc"), zero_shot=[True, True, False], unresolved=[True, False, False],
                diverged=[True, False, None])
    kept, refused = selection.checked_runs(df)
    assert list(kept.run_id) == ["b", "c"] and dict(zip(refused.run_id, refused.reason)) == {"a": "diverged"}


def test_the_runs_table_flags_the_committed_diverged_rate_check_run_only():
    """On the committed records: the rate-check run that blew up within a few steps is flagged
    ``diverged``, and every flagged run is one of that kind (best at step 0, stopped within 20 steps)."""
    table = runs.runs_table(runs.load_records())
    flagged = table[table.diverged.fillna(False).astype(bool)]
    assert len(flagged) >= 1 and (flagged.best_step == 0).all() and (flagged.steps < 20).all()
    assert (table[table.phase == "pretrain"].diverged.isna()).all()
