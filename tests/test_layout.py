"""The package's public surface and its packaging stay as documented."""

from __future__ import annotations

import configparser
import importlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _packages() -> list[str]:
    cfg = configparser.ConfigParser()
    cfg.read(ROOT / "setup.cfg")
    return [p.strip() for p in cfg["options"]["packages"].split("\n") if p.strip()]


def test_every_subpackage_is_listed_in_setup_cfg():
    found = {"fairbridge", "fairbridge.adapters"}
    for init in (ROOT / "bridge").rglob("__init__.py"):
        rel = init.parent.relative_to(ROOT / "bridge")
        if "__pycache__" not in rel.parts and rel.parts:
            found.add("fairbridge." + ".".join(rel.parts))
    assert found == set(_packages())


@pytest.mark.parametrize("module", sorted(set(_packages())))
def test_public_surface_is_exactly_all(module):
    mod = importlib.import_module(module)
    assert list(mod.__all__) == sorted(mod.__all__, key=str.lower) or list(mod.__all__) == sorted(mod.__all__)
    public = {n for n in vars(mod) if not n.startswith("_")}
    submodules = {n for n in public if getattr(getattr(mod, n), "__name__", "").startswith(mod.__name__ + ".")
                  and type(getattr(mod, n)).__name__ == "module"}
    assert public - submodules <= set(mod.__all__) | {"annotations"}
    for name in mod.__all__:
        assert hasattr(mod, name), f"{module}.__all__ names {name!r}, which is not there"
