"""The ``planner`` command line: thin adapters over the library.

Each command parses its arguments, calls one library function and prints the
result; what it computes lives in the library (``planner.run``, ``planner.whatif``,
``planner.network``, ...), so a notebook gets the same answers.

- :mod:`planner.cli.commands`: the app and ``validate``, ``network``, ``schema``, ``plan``, ``export``;
- :mod:`planner.cli.whatif`: ``failures``, ``derate``, ``sweep``;
- :mod:`planner.cli.generate`: ``generate``; :mod:`planner.cli.imports`: ``import topology``;
- :mod:`planner.cli.network`: ``network --format csv|json``;
- :mod:`planner.cli.console`: what every command shares -- exit codes, loading with a problem table,
  rich tables, live progress.

Exit codes: 0 success; 1 the solver found no plan in its time limit; 2 the input has
errors, an output would be overwritten or cannot be written, or the command line is
wrong; 3 internal workloads cannot all be placed; 130 interrupted (Ctrl-C).
"""

from planner.cli.commands import app, main

__all__ = ["app", "main"]
