"""The `fit` command end to end on planted worlds, and its one-line errors."""

import json
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pytest

from test_fitting import ALPHA, BETA, K, world
from transfer_laws.analysis import study


def fit(*args):
    return subprocess.run([sys.executable, "-m", "transfer_laws", "fit", *map(str, args)], capture_output=True, text=True)


def test_fit_json_recovers_planted_law(tmp_path):
    w = world(seed=5)
    mix = w[w.curriculum == "text"].assign(curriculum="mix")
    runs = pd.concat([w, mix]).assign(experiment=study.STUDY_EXPERIMENT, phase="target", other="ignored")
    runs = pd.concat([runs, runs.head(3).assign(experiment="contamination", test_loss=99.0)])  # left out
    p = tmp_path / "runs.csv"
    runs.to_csv(p, index=False)
    r = fit(p, "--json", "--bootstrap", 50, "--method", "direct")  # the loss method: test_fitting, coverage
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    for c in ("text", "mix"):
        assert out[c]["ci95"]["alpha"][0] <= ALPHA <= out[c]["ci95"]["alpha"][1]
        assert out[c]["ci95"]["beta"][0] <= BETA <= out[c]["ci95"]["beta"][1]
        assert out[c]["share_interpolated"] > 0.9
    assert out["shared_beta"]["preferred"] == "shared"
    human = fit(p, "--bootstrap", 20)
    assert human.returncode == 0 and "alpha =" in human.stdout


def test_paper_world_kaplan_and_table1(tmp_path):
    """Kaplan's Table 2 from-scratch law with the paper's Table 1 text constants, over ranges like
    the paper's (N 1e6..1e9, D_F 1e5..1e8 chars), 1% noise: the fit recovers alpha and beta."""
    from transfer_laws.analysis import laws

    rng = np.random.default_rng(0)
    rows = []
    for n in np.logspace(6, 9, 7):
        for d in np.logspace(5, 13, 17):
            rows.append({"curriculum": "scratch", "n_params": n, "d_train_chars": d,
                         "test_loss": laws.kaplan_loss(n, d) * np.exp(rng.normal(0, 0.003))})
        for d in np.logspace(5, 8, 7):
            d_e = d + laws.PAPER_TEXT.d_transferred(d, n)
            rows.append({"curriculum": "text", "n_params": n, "d_train_chars": d,
                         "test_loss": laws.kaplan_loss(n, d_e) * np.exp(rng.normal(0, 0.003))})
    p = tmp_path / "paper.csv"
    pd.DataFrame(rows).to_csv(p, index=False)
    out = json.loads(fit(p, "--json", "--bootstrap", 60).stdout)["text"]
    assert out["ci95"]["alpha"][0] <= 0.18 <= out["ci95"]["alpha"][1]
    assert out["ci95"]["beta"][0] <= 0.38 <= out["ci95"]["beta"][1]


@pytest.mark.parametrize("edit, message", [
    (lambda d: d.drop(columns="n_params"), "missing column 'n_params'"),
    (lambda d: d.assign(d_train_chars=d.d_train_chars.astype(object).where(d.index != 4, "lots")),
     "column 'd_train_chars', row 6"),
    (lambda d: d.assign(n_params=d.n_params.where(d.index != 0, -5)), "column 'n_params', row 2"),
    (lambda d: d[d.curriculum != "scratch"], "no scratch runs"),
])
def test_malformed_tables(tmp_path, edit, message):
    p = tmp_path / "bad.csv"
    edit(world()).to_csv(p, index=False)
    r = fit(p)
    assert r.returncode == 2 and message in r.stderr and "Traceback" not in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


def test_speed_200_runs_200_bootstrap(tmp_path):
    w = world(seed=6)
    runs = pd.concat([w, w[w.curriculum == "text"].assign(curriculum="mix")]).head(200)
    p = tmp_path / "runs.csv"
    runs.to_csv(p, index=False)
    t = time.perf_counter()
    r = fit(p, "--json", "--bootstrap", 200)
    assert r.returncode == 0, r.stderr
    # 12.6 s on the 2-core machine of 2026-12-02 once the loss-space fit stopped rebuilding each
    # curve's interpolant per call (45 s before); machines of this kind differ by up to ~1.5x. The
    # analysis issue (19) owns the real target, a vectorised fit: 1,000 draws on ~400 runs in 15 s.
    assert time.perf_counter() - t < 30


def _record(run_id, windows, curriculum="text", hashes="h"):
    w = np.asarray(windows)
    return {"run_id": run_id, "spec": {"phase": "target", "experiment": "main", "curriculum": curriculum,
                                       "size": "n13k", "d_train_chars": 1e6, "seed": 0},
            "test_loss": float(w.mean()), "test_loss_se": float(w.std(ddof=1) / np.sqrt(len(w))),
            "data_hashes": {"python": hashes}, "eval": {"test_windows": len(w), "n_ctx": 128},
            "test_window_losses_nats": [float(x) for x in w]}


def test_results_compare_pairs_windows_and_names_bad_ids(tmp_path):
    rng = np.random.default_rng(0)
    hard = rng.gamma(2.0, 1.5, size=512)
    a, b = _record("aaaa1111", hard + 0.05 + rng.normal(0, 0.02, 512)), _record("bbbb2222", hard, "mix")
    old = {**_record("cccc3333", hard, "mix"), "test_window_losses_nats": None}
    for r in (a, b, old):
        (tmp_path / "runs").mkdir(exist_ok=True)
        (tmp_path / "runs" / f"{r['run_id']}.json").write_text(json.dumps(r))

    def compare(*ids):
        return subprocess.run([sys.executable, "-m", "transfer_laws", "results", "compare", *ids, "--results",
                               str(tmp_path)], capture_output=True, text=True)

    r = compare("aaaa", "bbbb")
    assert r.returncode == 0, r.stderr
    line = r.stdout.splitlines()[-1]
    gap, se = float(line.split()[4]), float(line.split()[6])
    assert abs(gap - 0.05) < 3 * se and se < 0.003 and "paired over 512 test windows" in line
    r = compare("aaaa", "cccc")
    assert r.returncode == 0 and "unpaired" in r.stdout
    assert float(r.stdout.splitlines()[-1].split()[6]) > 20 * se  # the shared window difficulty is not removed
    r = compare("aaaa", "dddd")
    assert r.returncode == 2 and "run id 'dddd' matches 0 committed records" in r.stderr
    (tmp_path / "runs" / "dddd4444.json").write_text(json.dumps(_record("dddd4444", hard, hashes="other")))
    r = compare("aaaa", "dddd")
    assert r.returncode == 2 and "different test data" in r.stderr


def test_fit_on_the_committed_table_reads_what_the_book_reads(tmp_path):
    """`fit results/runs.csv` selects the study's rows (in_study) as the chapters do: the same numbers
    as fitting ``study.study_runs()`` with the same bootstrap seed, the same on a copy holding only
    the in_plan rows, and no torch imported on the way."""
    from transfer_laws import runs as runs_mod
    from transfer_laws.analysis import fits, study

    csv = runs_mod.results_dir() / "runs.csv"
    code = ("import sys; sys.argv = ['transfer_laws', 'fit', sys.argv[1], '--json', '--bootstrap', '20'];"
            "from transfer_laws import cli; rc = cli.main(sys.argv[1:]);"
            "assert 'torch' not in sys.modules and 'lightning' not in sys.modules, 'fit imported torch'; sys.exit(rc)")
    r = subprocess.run([sys.executable, "-c", code, str(csv)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    book_runs, experiment = study.study_runs()
    assert out["experiment"] == experiment == study.STUDY_EXPERIMENT and out["n_runs"] == len(book_runs)
    for cur in ("text", "mix"):
        f = fits.transfer_fit(book_runs, cur, n_bootstrap=20, seed=0, method="loss")  # the chapters' call
        assert out[cur]["alpha"] == pytest.approx(f.alpha, rel=1e-9) and out[cur]["beta"] == pytest.approx(f.beta, rel=1e-9)
        assert out[cur]["ci95"]["beta"] == pytest.approx(f.ci95["beta"], rel=1e-9)
    table = pd.read_csv(csv)
    copy = tmp_path / "in_plan.csv"
    table[table.in_plan].to_csv(copy, index=False)
    r2 = subprocess.run([sys.executable, "-c", code, str(copy)], capture_output=True, text=True)
    assert r2.returncode == 0, r2.stderr
    assert json.loads(r2.stdout) == out


def test_fit_json_carries_the_analysis_keys(tmp_path):
    """bias, mc_error, interval_kind, method_spread, n_convention, both N conventions, and gamma:
    recovered where two budgets exist at every size, null with its reason where P follows N."""
    rng = np.random.default_rng(4)
    w = world(seed=9)
    ft = w[w.curriculum == "text"]
    rows = [w[w.curriculum == "scratch"].assign(pretrain_tokens=np.nan)]
    for p_tokens in (1e6, 4e6):  # gamma 0.2: D_T grows as P^0.2 at fixed N
        from test_fitting import scratch_loss, K, ALPHA, BETA
        d_e = ft.d_train_chars + K * ft.d_train_chars ** ALPHA * ft.n_params ** BETA * (p_tokens / 1e6) ** 0.2
        rows.append(ft.assign(pretrain_tokens=p_tokens,
                              test_loss=scratch_loss(ft.n_params, d_e) * np.exp(rng.normal(0, 0.004, len(ft)))))
    runs = pd.concat(rows).assign(n_params_total=lambda d: d.n_params + 25_000)
    p = tmp_path / "runs.csv"
    runs.to_csv(p, index=False)
    out = json.loads(fit(p, "--json", "--bootstrap", 30).stdout)["text"]
    for key in ("bias", "mc_error", "interval_kind"):
        assert set(out[key]) >= {"k", "alpha", "beta"}
    assert set(out["method_spread"]["spread"]) == {"log10_k", "alpha", "beta"}
    assert "non-embedding" in out["n_convention"] and out["total_params"]["beta"] != out["beta"]
    assert out["gamma"] == pytest.approx(0.2, abs=0.08) and out["ci95"]["gamma"][0] <= out["gamma"] <= out["ci95"]["gamma"][1]
    one = runs.assign(pretrain_tokens=lambda d: np.where(d.curriculum == "scratch", np.nan, 20 * d.n_params_total))
    one = one.drop_duplicates(["curriculum", "n_params", "d_train_chars", "test_loss"])
    one.to_csv(p, index=False)
    out = json.loads(fit(p, "--json", "--bootstrap", 10).stdout)["text"]
    assert out["gamma"] is None and "cannot be separated" in out["gamma_reason"]
    # no learning-rate sweep in this table: no cell at a tuned rate, so the transfer gate is not tested
    assert out["transfer_cells"] == {"tested": 0, "lower": 0, "higher": 0, "measured": None}


def test_another_experiments_rows_keep_one_tokenizer_the_checks_and_the_main_budget(tmp_path, monkeypatch):
    """`fit --experiment X` for an experiment other than the study's leaves out what the book leaves
    out: rows of another tokenizer, refused rows of a checked recipe, fine-tunes off the main budget."""
    from transfer_laws.analysis import study
    from transfer_laws.cli import load_runs_table

    w = world(seed=5).assign(experiment="study2", phase="target", in_plan=True, recipe=2, exclusion="",
                             tokenizer="main", pretrain_tokens=np.nan)
    w.loc[w.curriculum != "scratch", "pretrain_tokens"] = study.MAIN_PRETRAIN_TOKENS["study2"]
    w["tag"] = "kept"
    extra = pd.concat([w.head(3).assign(tokenizer="text", tag="tokenizer"),
                       w.head(2).assign(exclusion="unresolved", tag="refused"),
                       w[w.curriculum == "text"].head(2).assign(pretrain_tokens=3_276_800, tag="budget")])
    p = tmp_path / "runs.csv"
    pd.concat([w, extra]).to_csv(p, index=False)
    from transfer_laws import cli
    monkeypatch.setattr(cli, "STUDY_EXPERIMENT", "main")  # study2 as *another* experiment than the book's
    got = load_runs_table(str(p), experiment="study2")
    assert len(got) == len(w) and set(got.tag) == {"kept"}
