"""fairbridge: wrap a fine-tuned classifier once, then audit, mitigate, explain and monitor it."""

from ._datasets import load_german_credit
from ._optional import MissingDependencyError
from ._validation import NotFittedError
from ._version import __version__

__all__ = ["MissingDependencyError", "NotFittedError", "__version__", "load_german_credit"]
