"""scenario-sim: compare policy recommendation sets in a stochastic model of strike waves.

Layout (each package is one layer of the architecture):

* :mod:`scenario_sim.lang`        -- the scenario language (YAML, schema, patches, loader)
* :mod:`scenario_sim.model`       -- one replication as SimPy processes
* :mod:`scenario_sim.experiment`  -- Monte Carlo runs: CRN, executors, results folders
* :mod:`scenario_sim.analysis`    -- paired statistics and ranking
* :mod:`scenario_sim.report`      -- tables, plots and the HTML report
* :mod:`scenario_sim.calibrate`   -- parameters and the contact event study from public records
"""

__version__ = "0.1.0"
