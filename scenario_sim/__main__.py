"""``python -m scenario_sim`` is the ``scenario-sim`` command."""

from scenario_sim.cli import main

if __name__ == "__main__":
    main()
