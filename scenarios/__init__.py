"""Bundled scenarios.

This folder is the top-level ``scenarios/`` of the repository; setup.cfg maps it to the
package ``scenario_sim.scenarios`` so the same files ship inside the wheel and
``scenario-sim run`` finds the reference scenario from any install.
"""
