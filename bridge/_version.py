"""The package version, read by ``setup.cfg`` and reported in every run record."""

__version__ = "0.1.0"
