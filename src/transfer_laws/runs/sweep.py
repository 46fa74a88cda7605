"""Grids of runs: parse a grid TOML, plan in dependency order coarse-to-fine, shard, estimate, run.

Grid file::

    [defaults]                 # any RunSpec field, applied to every run
    max_steps = 3000
    [pretrain_rule]            # pre-training tokens = tokens_per_param * N_total,
    tokens_per_param = 20      # capped at max_text_epochs passes over the text split
    max_text_epochs = 4
    [[block]]                  # a cartesian product: list values are crossed, scalars fixed
    phase = "pretrain"
    curriculum = ["text", "mix"]
    size = ["n28k", "n336k"]
    tokens_multiplier = [1.0]  # optional: x the rule (the pre-training-amount experiment)
    [max_steps_by_size]        # optional: per-size cap on the horizon (a block's own max_steps wins)
    n13k = 5000
    [[block]]
    phase = "target"
    curriculum = ["text", "mix"]
    size = ["n28k"]
    d_train_chars = [10000, 100000]
    seed = [0, 1]
    pretrain = { seed = 0 }    # which pre-training run: matched on curriculum, size and these keys
    extend_lr = 2.0            # optional: add rates x/ 2 while a finished sweep's best is at an edge
    # lr_factor = [0.5, 1, 2]: rates as multiples of the run's own rule (hparams.RECIPE2_RULES), fixed
    # when the grid is planned (a rule's check); held, as the rule's own runs, while it is provisional
    # schedule = "wsd", warmup_steps = 10, max_epochs = [25, 50, 100] and extend_epochs = 2.0:
    # horizon branches (forks of one stable phase), a branch x 2 longer added while the longest is best

A run is done when its record exists; the sweep skips done runs, so it resumes after any
interruption (records are written atomically: a killed run leaves nothing and is rerun).
"""

from __future__ import annotations

import itertools
import json
import time
import tomllib
import zlib
from dataclasses import dataclass, field, fields
from pathlib import Path

from transfer_laws import runs
from transfer_laws.train.config import LADDER, GPTConfig, flops_per_token
from transfer_laws.runs import RunSpec

SPEC_FIELDS = {f.name for f in fields(RunSpec)}
BLOCK_EXTRA = {"tokens_multiplier", "pretrain", "extend_lr", "extend_epochs", "lr_factor"}
MAX_LR_EXTENSIONS = 4  # rates added beyond an edge of a block's sweep, at most, per side
MAX_HORIZON_EXTENSIONS = 4  # horizon branches added beyond a family's longest (or shortest), at most
MIN_BRANCH_STEPS = 10  # a branch added below the shortest keeps at least this many steps after warm-up


class GridError(ValueError):
    """A grid file is malformed or inconsistent."""


@dataclass(frozen=True)
class PlannedRun:
    spec: RunSpec
    order: tuple  # sort key: dependency level, coarse-to-fine level, size, ...
    tags: dict = field(default_factory=dict, compare=False, hash=False)


# How a grid's runs are ordered ([sweep] order in its TOML): "coarse-to-fine" (every pre-training
# first, then each (curriculum, size)'s D values ends first, then midpoints, across all sizes: an
# interrupted grid still spans its D range), or "size" (the same, one size after another, smallest
# first: an interrupted grid leaves its smaller sizes complete, which the analysis can read).
ORDERS = ("coarse-to-fine", "size")


def _bitrev_rank(n: int) -> list[int]:
    """Coarse-to-fine rank of indices 0..n-1: both ends first, then midpoints, breadth first."""
    if n <= 2:
        return list(range(n))
    order, queue = [0, n - 1], [(0, n - 1)]
    while queue:
        lo, hi = queue.pop(0)
        if hi - lo > 1:
            mid = (lo + hi) // 2
            order.append(mid)
            queue += [(lo, mid), (mid, hi)]
    rank = [0] * n
    for r, i in enumerate(order):
        rank[i] = r
    return rank


def load_plan_file(path: Path) -> list[PlannedRun]:
    """A plan written out as JSON lines (one RunSpec dict per line, already in order)."""
    plan = []
    for i, line in enumerate(Path(path).read_text().splitlines()):
        if line.strip():
            try:
                plan.append(PlannedRun(RunSpec.from_dict(json.loads(line)), (i,)))
            except (json.JSONDecodeError, TypeError, ValueError) as exc:
                raise GridError(f"{path}: line {i + 1}: {exc}") from None
    return plan


def write_plan_file(plan: list[PlannedRun], path: Path) -> None:
    runs.atomic_write_bytes(Path(path), "".join(json.dumps(p.spec.to_dict()) + "\n" for p in plan).encode())


def load_grid(path: Path, data=None, root: Path | None = None) -> list[PlannedRun]:
    """Parse a grid TOML (or a ``.jsonl`` plan) into planned runs (pre-training first, then coarse-to-fine).

    A block with ``extend_lr = F`` is a learning-rate sweep that grows until its best rate is
    bracketed: once every rate of a cell (the block's runs that differ only in ``lr``) has a record
    in ``root`` and the lowest validation loss is at the lowest (highest) rate, the plan gains that
    rate / F (x F), up to MAX_LR_EXTENSIONS per side."""
    from transfer_laws.train import resume

    if str(path).endswith(".jsonl"):
        return load_plan_file(path)
    try:
        raw = tomllib.loads(Path(path).read_text())
    except tomllib.TOMLDecodeError as exc:
        raise GridError(f"{path}: malformed TOML: {exc}") from None
    except FileNotFoundError:
        raise GridError(f"grid file {path} not found") from None
    defaults = raw.get("defaults", {})
    bad = set(defaults) - SPEC_FIELDS
    if bad:
        raise GridError(f"{path}: unknown [defaults] keys {sorted(bad)}")
    rule = raw.get("pretrain_rule", {"tokens_per_param": 20, "max_text_epochs": 4})
    sweep_opts = raw.get("sweep", {})
    if set(sweep_opts) - {"order"}:
        raise GridError(f"{path}: unknown [sweep] keys {sorted(set(sweep_opts) - {'order'})}; known: order")
    order_by = sweep_opts.get("order", "coarse-to-fine")
    if order_by not in ORDERS:
        raise GridError(f"{path}: [sweep] order = {order_by!r}; known orders: {', '.join(ORDERS)}")
    steps_by_size = raw.get("max_steps_by_size", {})
    bad = set(steps_by_size) - set(LADDER)
    if bad:
        raise GridError(f"{path}: [max_steps_by_size]: unknown model size(s) {sorted(bad)}; "
                        f"known sizes: {', '.join(LADDER)}")
    blocks = raw.get("block", [])
    if not blocks:
        raise GridError(f"{path}: no [[block]] entries")

    pretrains: list[tuple[RunSpec, dict]] = []
    targets: list[tuple[dict, dict]] = []
    for b_i, block in enumerate(blocks):
        unknown = set(block) - SPEC_FIELDS - BLOCK_EXTRA
        if unknown:
            raise GridError(f"{path}: block #{b_i + 1}: unknown keys {sorted(unknown)}")
        keys = [k for k in block if k not in ("pretrain", "extend_lr", "extend_epochs")]
        values = [block[k] if isinstance(block[k], list) else [block[k]] for k in keys]
        for combo in itertools.product(*values):
            kw = {**defaults, **dict(zip(keys, combo))}
            if kw.get("size") not in LADDER:
                raise GridError(f"{path}: block #{b_i + 1}: unknown model size {kw.get('size')!r}; "
                                f"known sizes: {', '.join(LADDER)}")
            if "max_steps" not in block and kw["size"] in steps_by_size:
                kw["max_steps"] = int(steps_by_size[kw["size"]])
            if kw.get("phase") == "pretrain":
                mult = float(kw.pop("tokens_multiplier", 1.0))
                if "train_tokens" not in kw:  # an explicit budget (the same for every size) wins over the rule
                    kw["train_tokens"] = pretrain_tokens(kw, rule, mult, data)
                kw.setdefault("max_epochs", rule.get("max_text_epochs", 4))
                try:
                    spec = RunSpec.make(**kw)
                except (TypeError, ValueError) as exc:
                    raise GridError(f"{path}: block #{b_i + 1}: {exc}") from None
                pretrains.append((spec, {"tokens_multiplier": mult, "extend_lr": block.get("extend_lr")}))
            else:
                kw.pop("tokens_multiplier", None)
                if "lr_factor" in kw:
                    if "lr" in block:
                        raise GridError(f"{path}: block #{b_i + 1}: give lr or lr_factor, not both")
                    kw["_lr_factor"] = float(kw.pop("lr_factor"))
                match = dict(block.get("pretrain", {}))
                bad_match = set(match) - SPEC_FIELDS - {"tokens_multiplier"}
                if bad_match:
                    raise GridError(f"{path}: block #{b_i + 1}: unknown `pretrain` keys {sorted(bad_match)}")
                mkeys = list(match)
                for mcombo in itertools.product(*[match[k] if isinstance(match[k], list) else [match[k]] for k in mkeys]):
                    targets.append((dict(kw) | ({"_extend_lr": block["extend_lr"]} if "extend_lr" in block else {})
                                    | ({"_extend_epochs": block["extend_epochs"]} if "extend_epochs" in block else {}),
                                    dict(zip(mkeys, mcombo)), b_i))

    # pre-training first; within a wsd family the shorter budgets first, so that each run's cool-down
    # start is a fork the next, longer, run can start from
    planned = [PlannedRun(s, (0, LADDER_INDEX[s.size], s.seed, s.curriculum, s.train_tokens), tags)
               for s, tags in pretrains]
    from transfer_laws.train.hparams import provisional_rule

    target_specs, extend, extend_h, held = [], {}, {}, {}
    for kw, match, b_i in targets:
        factor = kw.pop("_extend_lr", None)
        h_factor = kw.pop("_extend_epochs", None)
        lr_factor = kw.pop("_lr_factor", None)
        if kw.get("curriculum") != "scratch":
            kw["pretrain_id"] = _match_pretrain(kw, match, pretrains, path, b_i)
        rule_source = provisional_rule(kw)  # before a rate is stated: the rule the run's rate comes from
        try:
            if lr_factor is not None:
                kw["lr"] = _rule_multiple(kw, lr_factor)
            target_specs.append(RunSpec.make(**kw))
        except (TypeError, ValueError) as exc:
            raise GridError(f"{path}: block #{b_i + 1}: {exc}") from None
        if rule_source:
            held[target_specs[-1].run_id] = rule_source
        if factor:
            extend[target_specs[-1]] = float(factor)
        if h_factor:
            if resume.family(target_specs[-1]) is None:
                raise GridError(f"{path}: block #{b_i + 1}: extend_epochs needs horizon branches "
                                f"(schedule = \"wsd\" and an explicit warmup_steps)")
            extend_h[target_specs[-1]] = float(h_factor)
    extend.update({s: float(tags["extend_lr"]) for s, tags in pretrains if tags.get("extend_lr")})
    added = extend_lr_sweeps(extend, root)
    pretrains += [(s, {"tokens_multiplier": 1.0, "extended": True}) for s in added if s.phase == "pretrain"]
    target_specs += [s for s in added if s.phase == "target"]
    target_specs += extend_horizons(extend_h, root)
    if data is not None:
        for s in target_specs:  # D larger than the data?
            if s.task == "lm":
                data.array("python", "train").n_tokens_for_chars(s.d_train_chars)
            elif s.d_train_examples > data.task(s.task, s.n_ctx).max_train_examples():
                raise GridError(f"{path}: {s.d_train_examples:,} {s.task} examples asked; the task's training "
                                f"pool holds at most {data.task(s.task, s.n_ctx).max_train_examples():,}")
    # coarse-to-fine: per (curriculum, size), rank the D values in bit-reversed order
    groups: dict[tuple, list[int]] = {}
    for s in target_specs:
        groups.setdefault((s.experiment, s.curriculum, s.size), []).append(s.d_train)
    ranks = {}
    for key, ds in groups.items():
        ds = sorted(set(ds))
        for d, r in zip(ds, _bitrev_rank(len(ds))):
            ranks[key + (d,)] = r
    for s in target_specs:
        r = ranks[(s.experiment, s.curriculum, s.size, s.d_train)]
        # a family's shorter branches first: each leaves the fork its next sibling starts from
        planned.append(PlannedRun(s, (1, s.seed > 0, r, LADDER_INDEX[s.size], s.curriculum, s.d_train,
                                      str(resume.family(s)), s.max_epochs),
                                  {"held": held[s.run_id]} if s.run_id in held else {}))
    if order_by == "size":  # tagged: a sweep replans between sizes (see run_sweep)
        planned = [PlannedRun(p.spec, (LADDER_INDEX[p.spec.size],) + p.order, {**p.tags, "size_group": p.spec.size})
                   for p in planned]
    planned.sort(key=lambda p: p.order)
    seen, unique = set(), []
    for p in planned:
        if p.spec.run_id not in seen:
            seen.add(p.spec.run_id)
            unique.append(p)
    return unique


LADDER_INDEX = {name: i for i, name in enumerate(LADDER)}


def lr_cell(spec: RunSpec) -> tuple:
    """What a learning-rate sweep holds fixed: every spec field but the rate."""
    return tuple(sorted((k, v) for k, v in spec.to_dict().items() if k != "lr"))


def _rule_multiple(kw: dict, factor: float) -> float:
    """``factor`` times the rate the run would get from its rule (``RunSpec.make`` without a rate), to
    2 significant digits: a block's ``lr_factor``."""
    from transfer_laws.train.hparams import significant

    return significant(RunSpec.make(**{k: v for k, v in kw.items() if k != "lr"}).lr * factor)


def extend_lr_sweeps(extend: dict[RunSpec, float], root: Path | None) -> list[RunSpec]:
    """The rates to add to sweeps whose finished best is at an edge (see ``load_grid``)."""
    from dataclasses import replace

    done = {r["run_id"]: r for r in runs.load_records(root)} if extend else {}
    cells: dict[tuple, list[RunSpec]] = {}
    for s in extend:
        cells.setdefault(lr_cell(s), []).append(s)
    added = []
    for cell, members in cells.items():
        factor = extend[members[0]]
        base = {round(s.lr, 12) for s in members}
        for _ in range(2 * MAX_LR_EXTENSIONS):
            members = sorted(members, key=lambda s: s.lr)
            if not all(s.run_id in done for s in members):
                break
            losses = [done[s.run_id]["val_loss"] for s in members]
            best = min(range(len(members)), key=losses.__getitem__)
            if 0 < best < len(members) - 1:
                break
            edge = members[best]
            new_lr = float(f"{edge.lr / factor if best == 0 else edge.lr * factor:.4g}")
            side_added = sum((s.lr < min(base)) if best == 0 else (s.lr > max(base)) for s in members)
            if side_added >= MAX_LR_EXTENSIONS:
                break
            new = replace(edge, lr=new_lr)
            members.append(new)
            added.append(new)
    return added


def extend_horizons(extend: dict[RunSpec, float], root: Path | None) -> list[RunSpec]:
    """Branches to add to horizon families (wsd target runs differing only in ``max_epochs``) whose
    finished best branch (lowest validation loss) sits at an end: ``max_epochs`` x the factor past the
    longest (while its horizon stays under the run's ``max_steps`` cap), / the factor below the
    shortest (while it keeps MIN_BRANCH_STEPS steps after its warm-up), at most
    MAX_HORIZON_EXTENSIONS times each way. A family whose best stays its longest is *capped*, its
    shortest *unresolved* (``analysis.selection``)."""
    from dataclasses import replace

    from transfer_laws.train import resume

    done = {r["run_id"]: r for r in runs.load_records(root)} if extend else {}
    families: dict[str, list[RunSpec]] = {}
    for s in extend:
        families.setdefault(resume.family(s), []).append(s)
    added = []
    for members in families.values():
        factor = extend[members[0]]
        top, bottom = max(s.max_epochs for s in members), min(s.max_epochs for s in members)
        while True:
            members = sorted(members, key=lambda s: s.max_epochs)
            if not all(s.run_id in done for s in members):
                break
            best = min(members, key=lambda s: done[s.run_id]["val_loss"])  # the shorter on a tie
            if best is members[-1] and len(members) > 1 or len(members) == 1:
                edge, epochs = members[-1], members[-1].max_epochs * factor
                if sum(s.max_epochs > top for s in members) >= MAX_HORIZON_EXTENSIONS:
                    break
            elif best is members[0]:
                edge, epochs = members[0], members[0].max_epochs / factor
                if sum(s.max_epochs < bottom for s in members) >= MAX_HORIZON_EXTENSIONS:
                    break
            else:
                break  # bracketed: the best branch has a shorter and a longer sibling
            rec = done[edge.run_id]
            steps = epochs * rec["d_train_tokens"] / (rec.get("batch_size", edge.batch_size) * edge.n_ctx)
            if steps > edge.max_steps or steps < (edge.warmup_steps or 0) + MIN_BRANCH_STEPS:
                break  # the step cap (the family stays capped) or too short to cool down
            new = replace(edge, max_epochs=float(f"{epochs:.4g}"))
            members.append(new)
            added.append(new)
    return added


def pretrain_tokens(kw: dict, rule: dict, multiplier: float, data) -> int:
    """tokens = multiplier * tokens_per_param * N_total, capped at max_text_epochs over the text."""
    vocab = data.vocab_size if data is not None else GPTConfig().vocab_size
    n_total = GPTConfig.from_name(kw["size"], vocab_size=vocab).n_params(non_embedding=False)
    tokens = multiplier * rule.get("tokens_per_param", 20) * n_total
    if data is not None:
        text_tokens = data.array("text", "train").n_tokens
        text_share = 1 - (kw.get("mix_code_fraction", 0.5) if kw.get("curriculum") == "mix" else 0.0)
        text_share *= 1 - kw.get("contamination_frac", 0.0)
        tokens = min(tokens, rule.get("max_text_epochs", 4) * text_tokens / text_share)
    return int(tokens)


def _match_pretrain(kw, match, pretrains, path, b_i) -> str:
    """The one pre-training run with the fine-tune's curriculum and size and the `pretrain` table's
    values (any spec field; seed 0, the fine-tune's experiment and no contamination unless given)."""
    want = {"curriculum": kw["curriculum"], "size": kw["size"], "seed": match.get("seed", 0),
            "experiment": match.get("experiment", kw.get("experiment", "main")),
            "contamination_frac": match.get("contamination_frac", 0.0)}
    want.update({k: v for k, v in match.items() if k in SPEC_FIELDS})
    mult = float(match.get("tokens_multiplier", 1.0))
    hits = [s for s, tags in pretrains
            if all(getattr(s, k) == v for k, v in want.items()) and tags["tokens_multiplier"] == mult]
    if not hits:
        raise GridError(f"{path}: block #{b_i + 1}: missing pre-training run for {want} "
                        f"(tokens_multiplier {mult}); add it to a pretrain block")
    if len(hits) > 1:
        raise GridError(f"{path}: block #{b_i + 1}: {len(hits)} pre-training runs match {want}; narrow `pretrain`")
    return hits[0].run_id


def select(plan: list[PlannedRun], sizes=None, experiments=None) -> list[PlannedRun]:
    """The runs of the given sizes and experiments, plus the pre-training runs they need (order kept)."""
    if sizes:
        unknown = set(sizes) - set(LADDER)
        if unknown:
            raise GridError(f"unknown model size(s) {sorted(unknown)}; known sizes: {', '.join(LADDER)}")
    keep = [p for p in plan if (not sizes or p.spec.size in sizes)
            and (not experiments or p.spec.experiment in experiments)]
    need = {p.spec.pretrain_id for p in keep if p.spec.pretrain_id}
    ids = {p.spec.run_id for p in keep}
    return [p for p in plan if p.spec.run_id in ids or p.spec.run_id in need]


def shard(plan: list[PlannedRun], i: int, n: int) -> list[PlannedRun]:
    """Deterministic share i (1-based) of n: by a hash of the run id."""
    if not (n >= 1 and 1 <= i <= n):
        raise GridError(f"bad shard {i}/{n}")
    return [p for p in plan if zlib.crc32(p.spec.run_id.encode()) % n == i - 1]


# ---- cost -----------------------------------------------------------------------------------

def estimate(spec: RunSpec, data, tokens_per_second: dict[str, float]) -> dict:
    """Upper-bound cost of a run: its full step budget (early stopping usually ends it sooner)."""
    from transfer_laws.train.loop import batch_size, budget_steps, eval_schedule

    cfg = GPTConfig.from_name(spec.size, vocab_size=data.vocab_size, n_ctx=spec.n_ctx)
    if spec.task != "lm":  # a task's examples are windows of n_ctx tokens
        d_tokens = spec.d_train_examples * spec.n_ctx
    elif spec.phase == "target" and spec.data_seed and data.payload:  # a payload carries the sampled streams
        d_tokens = data.training_arrays(spec)[2]
    elif spec.phase == "target":
        d_tokens = data.array("python", "train").n_tokens_for_chars(spec.d_train_chars)
    else:
        d_tokens = spec.train_tokens
    steps = budget_steps(spec, d_tokens)
    tokens = steps * batch_size(spec, d_tokens) * spec.n_ctx
    fl = flops_per_token(cfg)
    tps = tokens_per_second.get(spec.size)
    if spec.recipe == 1:  # evaluation adds ~ (val windows x eval count) forward tokens; counted as 15% overhead
        seconds = 1.15 * tokens / tps if tps else float("nan")
    else:  # every evaluation counted: forward passes at ~1/3 of a training token's cost, plus 5%
        n_evals = len(eval_schedule(steps, first=1, growth=spec.eval_growth)) + 1
        per_eval = spec.val_windows + (128 if spec.phase == "pretrain" else 0)
        eval_tokens = (n_evals * per_eval + spec.test_windows * (2 if spec.phase == "pretrain" else 1)) * spec.n_ctx
        seconds = 1.05 * (tokens + eval_tokens / 3) / tps if tps else float("nan")
    return {"steps": steps, "tokens": tokens, "flops_kaplan": tokens * fl["kaplan"], "flops_full": tokens * fl["full"],
            "seconds": seconds}


def throughput_path(device: str, root: Path | None = None) -> Path:
    return runs.results_dir(root) / f"throughput_{device}.json"


def load_throughput(sizes, data, device: str = "cpu", root: Path | None = None, measure: bool = True) -> dict:
    """Training tokens/s per size on this machine: from results/throughput_<device>.json, measuring
    (a few seconds per size) and recording the sizes it lacks."""
    path = throughput_path(device, root)
    table = json.loads(path.read_text()) if path.exists() else {}
    missing = [s for s in sizes if s not in table]
    if missing and measure:
        from transfer_laws.train.bench import plain_loop_tokens_per_second

        for s in missing:
            table[s] = plain_loop_tokens_per_second(s, data, steps=8, device=device)
        runs.atomic_write_bytes(path, (json.dumps(table, indent=1, sort_keys=True) + "\n").encode())
    return table


def throughput_from_bench(bench_csv: Path, sizes, data) -> dict:
    """Machine-independent planning throughput from a committed benchmark: the measured FLOP/s
    (Lightning, full FLOP count) interpolated in log FLOPs-per-token between the benchmarked
    sizes (flat beyond them), divided by each size's FLOPs per token."""
    import numpy as np
    import pandas as pd

    bench = pd.read_csv(bench_csv).sort_values("flops_per_token_full")
    x = np.log(bench["flops_per_token_full"].to_numpy(float))
    y = bench["lightning_flops_per_s"].to_numpy(float)
    out = {}
    for s in sizes:
        f = flops_per_token(GPTConfig.from_name(s, vocab_size=data.vocab_size))["full"]
        out[s] = float(np.interp(np.log(f), x, y)) / f
    return out


def plan_table(plan: list[PlannedRun], data, tps: dict, root: Path | None = None):
    """One row per planned run with its upper-bound cost. A run of a wsd family after its first
    (shortest) costs only the steps after the fork it starts from, its previous sibling's cool-down
    start (``train.resume``); ``minutes`` counts that share, ``max_steps`` the run's whole horizon."""
    import pandas as pd

    from transfer_laws.train import resume
    from transfer_laws.train.loop import cooldown_start

    estimates = [estimate(p.spec, data, tps) for p in plan]
    share = [1.0] * len(plan)
    families: dict[str, list[int]] = {}
    for i, p in enumerate(plan):
        key = resume.family(p.spec)
        if key is not None:
            families.setdefault(key, []).append(i)
    for members in families.values():
        members = sorted(members, key=lambda i: estimates[i]["steps"])
        for prev, i in zip(members, members[1:]):
            steps = estimates[i]["steps"]
            share[i] = (steps - min(cooldown_start(estimates[prev]["steps"], plan[prev].spec.cooldown_frac), steps)) / steps
    rows = []
    for p, e, f in zip(plan, estimates, share):
        e = {**e, "seconds": e["seconds"] * f}
        rows.append({"run_id": p.spec.run_id, "phase": p.spec.phase, "experiment": p.spec.experiment,
                     "curriculum": p.spec.curriculum, "size": p.spec.size, "d_train_chars": p.spec.d_train_chars,
                     "d_train_examples": p.spec.d_train_examples, "train_tokens": p.spec.train_tokens, "seed": p.spec.seed, "done": runs.is_done(p.spec, root),
                     "max_steps": e["steps"], "flops_full": e["flops_full"], "minutes": e["seconds"] / 60})
    return pd.DataFrame(rows)


def measured_pace(table, root: Path | None = None, device: str = "cpu"):
    """How this plan's finished runs kept to their estimates on this machine: per (phase, size), the
    median of time taken (``alone_seconds``: CPU time over threads, not counting pauses and shared
    cores) over estimated time and the count of finished runs it rests on (records without a time,
    or trained on another device than ``device``, such as a GPU pass's, are skipped). The estimate is the plain loop's pace; a recipe-2 pre-training (evaluations,
    Lightning's own work, a shared CPU) ran about 3x it (n13k, 2026-12-03)."""
    import pandas as pd

    rows = []
    for r in table[table.done].itertuples():
        path = runs.record_path(r.run_id, root)
        rec = json.loads(path.read_text()) if path.exists() else {}
        wall = alone_seconds(rec) if rec.get("hardware", {}).get("device", device) == device else None
        if wall and r.minutes > 0:
            rows.append({"phase": r.phase, "size": r.size, "ratio": wall / 60 / r.minutes})
    if not rows:
        return pd.DataFrame(columns=["phase", "size", "ratio", "runs"])
    return (pd.DataFrame(rows).groupby(["phase", "size"]).ratio.agg(ratio="median", runs="size").reset_index())


def alone_seconds(record: dict) -> float | None:
    """A finished run's time as if the machine had been its own: its process's CPU seconds over the
    threads it trained on (``hardware.name``: "... x2 threads"), where the record has them, else its
    wall seconds. The wall clock also counts the time a sweep was paused (``kill -STOP``) or shared
    the cores with other work: over the study's CPU records of 2026-12-07 (214 runs above a minute) the
    wall time was 28.1 hours and the CPU time 18.6 two-core hours; uncontended runs keep 1.95 of 2."""
    import re

    wall = record.get("wall_seconds")
    cpu = record.get("cpu_seconds")
    m = re.search(r"x(\d+) threads", record.get("hardware", {}).get("name", ""))
    if cpu and m:
        return min(float(cpu) / int(m.group(1)), float(wall)) if wall else float(cpu) / int(m.group(1))
    return wall


def paced_minutes(todo, pace) -> float:
    """``todo``'s estimated minutes at the measured pace: each run's estimate times its (phase, size)
    ratio where at least 2 runs measured it, else its phase's median ratio, else 1 (the estimate)."""
    if todo.empty:
        return 0.0
    cell = {(p, z): r for p, z, r, n in pace[["phase", "size", "ratio", "runs"]].itertuples(index=False) if n >= 2}
    phase = pace.groupby("phase").ratio.median().to_dict() if len(pace) else {}
    ratio = [cell.get((p, z), phase.get(p, 1.0)) for p, z in zip(todo.phase, todo["size"])]
    return float((todo.minutes.to_numpy(float) * ratio).sum())


def run_sweep(grid: Path, data, device: str = "auto", shard_spec: str | None = None, max_runs: int | None = None,
              dry_run: bool = False, max_minutes: float = 45.0, root: Path | None = None,
              trainer_kwargs: dict | None = None, log=print, sizes=None, experiments=None,
              executor: str = "local", slurm: dict | None = None) -> list[str]:
    """Run every missing run of a grid; returns the ids it finished (or, dry, the ids it would run).

    ``sizes`` / ``experiments`` restrict the grid (the pre-training runs they need are kept).
    ``executor``: ``local`` trains here, one run after another; ``slurm`` submits every run as a
    SLURM job (``runs.slurm``; ``slurm`` holds ``SlurmExecutor``'s options) and waits for them."""
    if executor not in ("local", "slurm"):
        raise GridError(f"unknown executor {executor!r} (expected local or slurm)")
    from transfer_laws.train.loop import resolve_device

    def make_plan():
        plan = load_grid(grid, data, root)
        if sizes or experiments:
            plan = select(plan, sizes, experiments)
            if not plan:
                asked = "; ".join(f"{name} {','.join(vals)}" for name, vals in
                                  (("--sizes", sizes), ("--experiments", experiments)) if vals)
                raise GridError(f"{grid}: no run matches {asked}")
        if shard_spec:
            i, n = (int(x) for x in shard_spec.split("/"))
            plan = shard(plan, i, n)
        return plan

    plan = make_plan()
    if not plan:  # e.g. a shard of a small plan that drew no run
        log(f"nothing to run in {grid}" + (f" (shard {shard_spec})" if shard_spec else ""))
        return []
    dev = resolve_device(device) if not dry_run else ("cuda" if device == "cuda" else "cpu")
    tps = load_throughput(sorted({p.spec.size for p in plan}), data, dev, root)
    table = plan_table(plan, data, tps, root)
    too_long = table[table.minutes > max_minutes]
    if len(too_long):
        raise GridError(f"{len(too_long)} run(s) estimated above the {max_minutes:.0f}-minute cap, e.g. "
                        f"{too_long.iloc[0].run_id} ({too_long.iloc[0]['size']}, {too_long.iloc[0].minutes:.0f} min): "
                        "lower max_steps or split the run")
    todo = table[~table.done]
    log(f"plan: {len(table)} runs, {int(table.done.sum())} done, {len(todo)} to run; estimated (upper bound) "
        f"{todo.minutes.sum() / 60:.2f} wall-hours, {todo.flops_full.sum():.3g} FLOPs on {dev}")
    pace = measured_pace(table, root, dev)
    if len(pace) and len(todo):
        by_phase = [f"{ph} {g.ratio.median():.2g}x ({int(g.runs.sum())} runs)" for ph, g in pace.groupby("phase")]
        log(f"  at the pace this plan's finished runs kept here (time alone over estimate, median: "
            f"{', '.join(by_phase)}): {paced_minutes(todo, pace) / 60:.2f} wall-hours with the machine to itself")
    if dry_run:
        with __import__("pandas").option_context("display.max_rows", 500, "display.width", 200):
            log(todo.to_string(index=False, float_format=lambda x: f"{x:.3g}"))
        return list(todo.run_id)
    minutes = dict(zip(table.run_id, table.minutes))
    if executor == "slurm":
        return _slurm_sweep(make_plan, plan, data, device, root, trainer_kwargs, log, slurm or {})

    def progress(done_ids):
        """After each run: the dry-run's upper bound for what is left (runs a sweep extension added
        since the estimate count at their own estimate when known, else not at all)."""
        left = [p for p in plan if not runs.is_done(p.spec, root)]
        log(f"  left: {len(left)} run(s), at most {sum(minutes.get(p.spec.run_id, 0.0) for p in left) / 60:.2f} "
            f"wall-hours by the dry-run's estimates ({len(done_ids)} finished this sweep)")

    finished = []
    while True:
        forks = fork_steps(plan, data)
        n_before = len(finished)
        deferred = []
        queue = [p for p in plan if not runs.is_done(p.spec, root)]
        held = [p for p in queue if p.tags.get("held")]
        if held:
            log(f"held: {len(held)} run(s) wait for a refitted rate rule ({held[0].tags['held']}, provisional)")
            queue = [p for p in queue if not p.tags.get("held")]
        group = None  # size by size ([sweep] order = "size"): a size's rate and horizon extensions
        for p in queue + [None]:  # run before the next size starts, so each size completes in turn
            if p is not None and group not in (None, p.tags.get("size_group")):
                log(f"replanning before {p.spec.size}: extensions of {group} first")
                break
            if p is None:  # one more pass over fine-tunes that waited on their pre-training
                queue2, deferred = deferred, []
                for q in queue2:
                    if max_runs is not None and len(finished) >= max_runs:
                        break
                    if _ready(q, root):
                        finished += _run_one(q, data, device, root, trainer_kwargs, log, forks)
                        progress(finished)
                    else:
                        log(f"skip {q.spec.run_id}: its pre-training run {q.spec.pretrain_id} is not done (another shard?)")
                break
            if max_runs is not None and len(finished) >= max_runs:
                break
            if runs.is_done(p.spec, root):
                continue
            if not _ready(p, root):
                deferred.append(p)
                continue
            finished += _run_one(p, data, device, root, trainer_kwargs, log, forks)
            progress(finished)
            group = p.tags.get("size_group")
        if len(finished) == n_before or (max_runs is not None and len(finished) >= max_runs):
            return finished
        plan = make_plan()  # learning-rate sweeps may have grown


def _slurm_sweep(make_plan, plan, data, device, root, trainer_kwargs, log, options) -> list[str]:
    """Submit, wait, re-plan (learning-rate sweeps may grow) until nothing is left to submit; jobs
    another sweep submitted are waited for too; a run that failed here is not resubmitted here."""
    from transfer_laws.runs import slurm as slurm_

    ex = slurm_.SlurmExecutor(folder=Path(options.pop("folder", "slurm_logs")), **options)
    finished, failed = [], set()
    while True:
        todo = [p for p in plan if p.spec.run_id not in failed and not p.tags.get("held")]
        jobs = slurm_.submit_plan(todo, ex, root, device, fork_steps(plan, data), trainer_kwargs, log)
        done = slurm_.wait(jobs, log)
        failed |= set(jobs) - set(done)
        finished += done
        held = [p.spec.run_id for p in plan if p.spec.run_id in slurm_.queued_jobs()]
        slurm_.wait_for_names(held, log)
        if not jobs and not held:
            return finished
        plan = make_plan()


def _ready(p: PlannedRun, root) -> bool:
    return p.spec.pretrain_id is None or runs.record_path(p.spec.pretrain_id, root).exists()


def fork_steps(plan: list[PlannedRun], data) -> dict[str, set[int]]:
    """wsd family -> the cool-down starts of its planned runs (where a fork is saved)."""
    from transfer_laws.train import resume
    from transfer_laws.train.loop import budget_steps, cooldown_start

    out: dict[str, set[int]] = {}
    for p in plan:
        key = resume.family(p.spec)
        if key is not None:
            tokens = p.spec.train_tokens if p.spec.phase == "pretrain" else \
                data.for_spec(p.spec).training_arrays(p.spec)[2]  # a target's horizon counts epochs over D
            out.setdefault(key, set()).add(cooldown_start(budget_steps(p.spec, tokens), p.spec.cooldown_frac))
    return out


def _run_one(p: PlannedRun, data, device, root, trainer_kwargs, log, forks=None) -> list[str]:
    from transfer_laws.train import resume
    from transfer_laws.train.loop import train

    s = p.spec
    t0 = time.perf_counter()
    what = s.phase if s.task == "lm" else f"{s.task} task"
    log(f"run {s.run_id}: {what} {s.curriculum} {s.size} D={s.d_train} tokens={s.train_tokens} "
        f"seed={s.seed} data_seed={s.data_seed} lr={s.lr:.3g}")
    key = resume.family(s)
    r = train(s, data, device=device, results_root=root, trainer_kwargs=trainer_kwargs,
              fork_steps=sorted((forks or {}).get(key, ())) if key else ())
    log(f"  done {s.run_id}: test {r.test_loss:.4f} nats/{'token' if s.task == 'lm' else 'example'} ({r.stop_reason}, {r.steps} steps, "
        f"{time.perf_counter() - t0:.0f}s)")
    return [s.run_id]
