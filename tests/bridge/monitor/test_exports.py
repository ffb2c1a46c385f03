"""The public surface of fairbridge.monitor is exactly its sorted ``__all__``; heavy imports are lazy."""

from __future__ import annotations

import subprocess
import sys

import fairbridge.monitor as monitor


def test_all_is_sorted_and_resolves():
    assert monitor.__all__ == sorted(monitor.__all__)
    for name in monitor.__all__:
        assert getattr(monitor, name) is not None
    public = {n for n in dir(monitor) if not n.startswith("_") and n != "annotations"}
    assert public == set(monitor.__all__)


def test_importing_the_deployment_monitor_does_not_import_torch_or_transformers():
    code = ("import sys, fairbridge.monitor as m; m.FairnessMonitor; "
            "print(sorted(k for k in ('torch', 'transformers', 'nannyml', 'torchmetrics') "
            "if k in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
