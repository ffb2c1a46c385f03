"""``to_html``, ``to_json`` and ``to_markdown`` for every result that has a ``to_dict()``."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

__all__ = ["ReportWriters"]


class ReportWriters:
    """Mixin: write the result's ``to_dict()`` with :mod:`fairbridge.reports` (imported lazily)."""

    def to_dict(self) -> dict[str, Any]:  # pragma: no cover - provided by the result class
        raise NotImplementedError

    def to_html(self, path: str | os.PathLike) -> Path:
        """Write a self-contained HTML report (:func:`fairbridge.reports.write_html`)."""
        from fairbridge.reports import write_html

        return write_html(self.to_dict(), path)

    def to_json(self, path: str | os.PathLike) -> Path:
        """Write the result as JSON with its versioned schema (:func:`fairbridge.reports.write_json`)."""
        from fairbridge.reports import write_json

        return write_json(self.to_dict(), path)

    def to_markdown(self, path: str | os.PathLike) -> Path:
        """Write a Markdown summary (:func:`fairbridge.reports.write_markdown`)."""
        from fairbridge.reports import write_markdown

        return write_markdown(self.to_dict(), path)
