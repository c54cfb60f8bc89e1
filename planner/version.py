"""The planner's version, in one place.

The package root (``planner.__version__``), the command line (``planner --version``),
the report's footer and the package metadata (``pyproject.toml`` reads it as a
dynamic version) all take it from here, so that no module below the package root
has to import the root (which imports every layer) for it.
"""

__all__ = ["__version__"]

__version__ = "0.1.0"
