"""The run folder as a versioned format: written by the experiment, read by everyone above.

A run folder describes itself: analysis and report read only the folder, never the
scenario language or the model, so a folder copied to another machine (where the scenario
file at the original path is different, or absent) still gives the same comparison and
report.  This package imports neither :mod:`scenario_sim.lang` nor :mod:`scenario_sim.model`.

Layout of ``results/<scenario name>/<timestamp>-<short id>/`` (format version 2)::

    manifest.json          Manifest: what was run, by what, how far it got, what failed
    outcomes.json          [OutcomeInfo]: name, unit, direction, description, key
    sets.json              [SetInfo]: each recommendation set's description and patch
    sets/<name>.yaml       each set's effective scenario (what the model saw)
    scenario.yaml          the effective scenario file (after extends), sets included; resume runs it
    parts/                 one Parquet file per finished chunk while the run is going
    replications.parquet   one row per (set, replication): set, replication, error, outcomes...
    timeseries.parquet     daily series, when asked for
    summary.csv            per set and outcome: mean, sd, 95% interval, n
    comparison.csv         written by `compare` / `report` (analysis output, not the run's)
    report.html, plots/    written by `report`

Every file is written atomically (a temporary file in the same folder, then ``os.replace``),
so a crash leaves either the old file or the new one, never half of one; a chunk's results
are on disk as soon as it finishes, which is what ``--resume`` relies on.  The consolidated
Parquet files are written in fixed-size row groups, so their bytes do not depend on the
chunk size, the executor or the order in which chunks finished.

API (everything a writer or reader needs)::

    folder = RunFolder.create(root, scenario_name, stamp, short_id)   # new, with parts/
    folder.write_manifest(Manifest(...)); folder.write_outcomes([...]); folder.write_sets([...], {...})
    folder.write_part(start, count, table, ts); folder.done_chunks(); folder.consolidate_parts(...)

    folder = RunFolder.open(path)      # ResultsError (one line, exit 2) if missing/foreign/damaged
    m = folder.manifest()              # Manifest, validated; older/newer format_version refused
    folder.outcomes(); folder.sets(); folder.iter_batches(columns); folder.writable

Records are plain dataclasses (:mod:`scenario_sim.runs.manifest`); reading validates every
key and type and names the file and dotted key of the first problem.  To add a field,
give it a default (old folders of the same version still read) or raise ``FORMAT_VERSION``
when readers cannot do without it.
"""

from scenario_sim.runs.folder import (
    COMPARISON,
    FRONTIER,
    MANIFEST,
    OUTCOMES,
    PARTS,
    PLOTS,
    REPLICATIONS,
    REPORT,
    ROW_GROUP,
    SCENARIO,
    SET_SCENARIOS,
    SETS,
    SUMMARY,
    TIMESERIES,
    RunFolder,
    atomic_write_bytes,
    atomic_write_text,
    is_read_only_error,
    resume_command,
    writable,
    write_table_atomic,
)
from scenario_sim.runs.manifest import (
    BASELINE,
    FORMAT,
    FORMAT_VERSION,
    Adaptive,
    Direction,
    FailureRecord,
    Failures,
    Manifest,
    OutcomeInfo,
    ScenarioRef,
    SelectBest,
    SetInfo,
    Status,
)

__all__ = [
    "BASELINE", "COMPARISON", "FORMAT", "FORMAT_VERSION", "FRONTIER", "MANIFEST", "OUTCOMES", "PARTS", "PLOTS",
    "REPLICATIONS", "REPORT", "ROW_GROUP", "SCENARIO", "SETS", "SET_SCENARIOS", "SUMMARY", "TIMESERIES",
    "Adaptive", "Direction", "FailureRecord", "Failures", "Manifest", "OutcomeInfo", "RunFolder", "ScenarioRef",
    "SelectBest", "SetInfo", "Status", "atomic_write_bytes", "atomic_write_text", "is_read_only_error",
    "resume_command", "writable", "write_table_atomic",
]
