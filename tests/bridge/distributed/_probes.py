"""A text adapter that reports which Ray actor scored, and can die once mid-run.

Used by the distributed tests only.  The behaviour is switched on by environment variables
that the tests pass to the actors through ``score(..., runtime_env={"env_vars": {...}})``:

* ``FAIRBRIDGE_TEST_RECORD_DIR``: each scoring call writes a file ``<pid>-<n>`` there holding
  the number of texts it scored;
* ``FAIRBRIDGE_TEST_DIE_MARKER``: on its second scoring call, an actor that does not find this
  file creates it and exits at once (``os._exit``), as a crashed worker would; the restarted
  actor finds the file and carries on.
"""

from __future__ import annotations

import itertools
import os
from pathlib import Path
from typing import Any

from fairbridge.adapters import HFTextClassifier

_CALLS = itertools.count(1)


class ProbedClassifier(HFTextClassifier):
    """``HFTextClassifier`` whose scoring calls inside Ray actors can be recorded or killed."""

    def _outputs(self, inputs: Any, who: str, **kwargs: Any) -> Any:
        if who.endswith(".outputs"):  # the actors score through the public outputs()
            call = next(_CALLS)
            record = os.environ.get("FAIRBRIDGE_TEST_RECORD_DIR")
            if record:
                Path(record, f"{os.getpid()}-{call}").write_text(str(len(inputs)))
            marker = os.environ.get("FAIRBRIDGE_TEST_DIE_MARKER")
            if marker and call >= 2 and not os.path.exists(marker):
                try:
                    with open(marker, "x") as fh:  # exclusive: only one actor ever dies
                        fh.write(str(os.getpid()))
                except FileExistsError:
                    pass
                else:
                    os._exit(1)
        return super()._outputs(inputs, who, **kwargs)
