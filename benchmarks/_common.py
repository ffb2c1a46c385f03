"""Helpers shared by the benchmark scripts: machine description, mixed-length texts, tables.

Benchmarks are standalone scripts; tests never import them (a smoke test runs each one in a
subprocess at a tiny size).
"""

from __future__ import annotations

import json
import os
import platform
import time
from collections.abc import Callable, Sequence
from importlib import metadata

import numpy as np

__all__ = ["describe_machine", "mixed_length_texts", "print_table", "timed", "versions"]


def versions(names: Sequence[str]) -> dict[str, str]:
    """Installed versions of ``names`` ("-" when absent)."""
    out = {}
    for n in names:
        try:
            out[n] = metadata.version(n)
        except metadata.PackageNotFoundError:
            out[n] = "-"
    return out


def describe_machine() -> dict[str, str]:
    """CPU model and cores, GPU name, Python and torch versions."""
    import torch

    cpu = platform.processor() or "unknown CPU"
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    info = {"cpu": f"{cpu} ({os.cpu_count()} cores)", "python": platform.python_version(),
            "torch": torch.__version__}
    if torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name(0)
    return info


def mixed_length_texts(n: int, tokenizer, *, low: int = 8, high: int = 256, seed: int = 0) -> list[str]:
    """``n`` texts whose token counts follow a log-normal between ``low`` and ``high``.

    Words come from the tokenizer's whole-word vocabulary, so one word is about one token;
    the median is about 40 tokens and a tail reaches ``high`` (support tickets, loan notes).
    """
    rng = np.random.default_rng(seed)
    vocab = [w for w in tokenizer.get_vocab() if w.isalpha() and w.isascii() and len(w) > 2]
    vocab.sort()
    words = np.array(vocab)
    lengths = np.clip(rng.lognormal(mean=np.log(40), sigma=0.8, size=n), low, high - 2).astype(int)
    return [" ".join(rng.choice(words, size=k)) for k in lengths]


def timed(fn: Callable[[], object], *, repeat: int = 1, sync: Callable[[], None] | None = None) -> float:
    """Best wall time of ``repeat`` runs of ``fn`` (synchronising the device around each)."""
    best = float("inf")
    for _ in range(repeat):
        if sync:
            sync()
        t0 = time.perf_counter()
        fn()
        if sync:
            sync()
        best = min(best, time.perf_counter() - t0)
    return best


def print_table(rows: list[dict], columns: Sequence[str], *, title: str = "") -> str:
    """Print rows as a Markdown table (also returned, for benchmarks/README.md)."""
    def fmt(v: object) -> str:
        if isinstance(v, float):
            if v == 0 or 0.01 <= abs(v) < 1e5:
                return f"{v:,.2f}" if abs(v) < 100 else f"{v:,.0f}"
            return f"{v:.3g}"
        return "" if v is None else str(v)

    lines = []
    if title:
        lines.append(f"\n### {title}\n")
    lines.append("| " + " | ".join(columns) + " |")
    lines.append("|" + "|".join("---" for _ in columns) + "|")
    for r in rows:
        lines.append("| " + " | ".join(fmt(r.get(c)) for c in columns) + " |")
    text = "\n".join(lines)
    print(text, flush=True)
    return text


def write_json(path: str | None, payload: dict) -> None:
    """Write the raw numbers next to the printed table."""
    if path:
        with open(path, "w") as fh:
            json.dump(payload, fh, indent=2, default=str)
