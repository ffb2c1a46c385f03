"""Reports of an audit or a comparison: one offline HTML file, versioned JSON, Markdown.

Every function takes the result dict (``AuditResult.to_dict()`` or
``ComparisonResult.to_dict()``) or the result object itself:

>>> from fairbridge.reports import write_html, write_json, write_markdown
>>> write_html(cmp.to_dict(), "report.html")  # doctest: +SKIP

The JSON follows the schema ``fairbridge/reports/schema/<kind>-1.0.json`` (NaN is ``null``);
:func:`validate` checks a result against it (needs ``pip install 'fairbridge[test]'``).
"""

from ._html import render_html, write_html
from ._json import SCHEMA_VERSION, load_schema, to_json, to_jsonable, validate, write_json
from ._markdown import render_markdown, write_markdown

__all__ = [
    "SCHEMA_VERSION",
    "load_schema",
    "render_html",
    "render_markdown",
    "to_json",
    "to_jsonable",
    "validate",
    "write_html",
    "write_json",
    "write_markdown",
]
