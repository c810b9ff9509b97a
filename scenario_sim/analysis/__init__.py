"""Analysis of run folders: paired statistics and rankings (reads only the run folder)."""

from scenario_sim.analysis.compare import (
    Comparison,
    RunData,
    compare,
    failure_notes,
    load_run,
    output_dir,
    ranking,
    run_comparison,
    write_comparison,
)

__all__ = ["Comparison", "RunData", "compare", "failure_notes", "load_run", "output_dir", "ranking",
           "run_comparison", "write_comparison"]
