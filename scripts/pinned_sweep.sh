#!/usr/bin/env bash
# A sweep that runs from a git worktree pinned to one commit, in its own venv, so that this checkout's
# code can change while it trains (issue 17). Records land in THIS checkout's results/ (each run's
# record names the pinned commit) and are committed here as they land, results/ paths only.
#
#   scripts/pinned_sweep.sh COMMIT GRID[,GRID...] [sweep options...]   e.g. scripts/pinned_sweep.sh HEAD grids/pilot2.toml
#
# Several grids, comma-separated, run one after the other (each to completion) in one background job.
#
# Worktree: ../sweep-wt, venv: ../sweep-venv (created when missing; torch installed first). Switch the
# pinned commit only between runs: stop the sweep (a run in progress resumes from its checkpoint in
# results/in_progress/, saved every 10 minutes), check the id test on the new commit, start again.
# Pause it for a build or a test run with kill -STOP / kill -CONT on the process group it prints.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
commit=$(git -C "$here" rev-parse "${1:?usage: pinned_sweep.sh COMMIT GRID [options]}")
grid=${2:?usage: pinned_sweep.sh COMMIT GRID [options]}
shift 2
wt=${SWEEP_WORKTREE:-$here/../sweep-wt}
venv=${SWEEP_VENV:-$here/../sweep-venv}
if [ ! -d "$wt" ]; then git -C "$here" worktree add -q --detach "$wt" "$commit"; fi
git -C "$wt" checkout -q --detach "$commit"
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
  "$venv/bin/python" -m pip install -q --disable-pip-version-check torch==2.13.0
fi
"$venv/bin/python" -m pip install -q --disable-pip-version-check -c "$wt/constraints.txt" -e "$wt[train,test]" 2>/dev/null \
  || "$venv/bin/python" -m pip install -q --disable-pip-version-check -e "$wt" 2>/dev/null  # commits before the extras
"$venv/bin/python" -m pytest -q -p no:cacheprovider "$wt/tests/test_recipe.py::test_every_committed_id_is_its_specs_hash" \
  --rootdir "$wt" >/dev/null || { echo "run-id test fails at $commit: not sweeping" >&2; exit 2; }
names=$(for g in ${grid//,/ }; do basename "$g" .toml; done | paste -sd+)
log=$here/../sweep-$(date +%Y%m%d-%H%M%S)-$names.log
# its own session and process group: `kill -STOP -- -PID` pauses (and -CONT resumes) the whole sweep
export SWEEP_WT="$wt" SWEEP_PY="$venv/bin/python" SWEEP_GRIDS="$grid" TRANSFER_LAWS_RESULTS="$here/results" PYTHONUNBUFFERED=1
setsid bash -c 'cd "$SWEEP_WT" && for g in ${SWEEP_GRIDS//,/ }; do
    "$SWEEP_PY" -m transfer_laws sweep "$SWEEP_WT/$g" --results "$TRANSFER_LAWS_RESULTS" "$@" || exit $?
  done' sweep "$@" >"$log" 2>&1 < /dev/null &
pid=$!
echo "sweep pid $pid at ${commit:0:7} (pause: kill -STOP -- -$pid; resume: kill -CONT -- -$pid), log $log"
# commit each record as it lands (results/ paths only, never the code being edited here); a second
# committer (or a commit made by hand) may hold git's index lock for a moment: that minute is skipped, not the loop
(
  while kill -0 "$pid" 2>/dev/null; do
    sleep 60
    cd "$here"
    if [ -n "$(git status --porcelain -- results/runs results/checkpoints)" ]; then
      git add -- results/runs results/checkpoints 2>/dev/null || continue
      n=$(git diff --cached --name-only -- results/runs | wc -l)
      git commit -q -m "$names: $n run record(s) as they land (sweep at ${commit:0:7})" \
        -- results/runs results/checkpoints || true
    fi
  done
) >/dev/null 2>&1 &
echo "committer pid $!"
