"""The offline default price source (SPEC §5): deterministic, realistic synthetic zone prices.

One simulator, in three parts:

- ``model``: the calibrated constants (per system and per zone), fitted on the real CENACE
  files by ``bench/calibrate_synthetic.py``; docs/synthetic-prices.md explains each term;
- ``generator``: the random process that turns them into hourly prices, a pure function of
  (system, zone or node, process, date), clock-change days included;
- ``source``: ``SyntheticSource``, the ``PriceSource`` that resolves a query's zone or node and
  asks the generator for its days.
"""

from __future__ import annotations

from prices.synthetic.source import SyntheticSource

__all__ = ["SyntheticSource"]
