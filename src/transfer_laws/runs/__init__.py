"""Runs: specs and ids (``spec``), the record store and its tables (``store``), the checks a record
carries (``checks``), the typed record (``record``), every grid's plan (``plan``), the sweep that executes a plan (``sweep``) and the
GPU payload (``payload``, ``gpu_pass``). The spec and the store are re-exported here, so that
``from transfer_laws import runs; runs.RunSpec, runs.load_records`` reads as one API."""

from transfer_laws.runs.record import RunRecord  # noqa: F401
from transfer_laws.runs.spec import (  # noqa: F401
    BATCH_RULES, LEGACY, PHASES, PRETRAIN_CURRICULA, SCHEDULES, RunSpec, spec_id,
)
from transfer_laws.runs.store import (  # noqa: F401
    CURVE_COLUMNS, RUN_COLUMNS, atomic_write_bytes, checkpoint_path, curves_table, is_done, load_records,
    record_path, results_dir, runs_table, window_losses, write_record,
)
