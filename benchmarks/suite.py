"""The benchmark suite: one command, a table on stdout, everything in JSON.

    TFDS_DATA_DIR=../shared/tfds python -m benchmarks.suite            # full run (hours on 2 cores)
    python -m benchmarks.suite --quick                                 # headline comparison only
    python -m benchmarks.suite --tiny --json /tmp/suite.json           # seconds; what the test runs

Sections (``--sections``, comma-separated; default all):

* ``limit``: this machine's matmul / convolution GFLOP/s, float32 and bfloat16, graph and XLA
  (:mod:`benchmarks.machine_limit`), measured at the start and again at the end of the run
  (the better of the two is the limit).
* ``flops``: matmul-class FLOPs of one training step per entry (:mod:`benchmarks.flops`),
  the analytic count checked against TensorFlow's graph count on cgan_mnist.
* ``train``: training images/s per entry (all MNIST and CIFAR-10 entries), XLA on/off x
  precision policy; for dcgan_mnist and cgan_mnist also the plain keras.io-style GAN
  (:mod:`benchmarks.baseline_gan`) in the same interleaved rounds, and the ratios. Each
  configuration is its own process (its own peak RSS); repeats run interleaved
  (:mod:`benchmarks.runner`); median, min and max of ``--repeats`` repeats after warm-up.
  The achieved fraction of the machine's limit is FLOPs/step x steps/s over the peak of the
  same precision.
* ``generate``: generator images/s (inference, batch 256), XLA on/off x precision, and
  ``model.generate`` itself ("api").
* ``evaluate``: images/s of the domain classifier that computes FCD / label accuracy
  (per image shape), XLA on/off x precision. (Inception-based FID: benchmarks/eval_throughput.py.)
* ``scaling``: cgan_mnist and dcgan_mnist at batch 32/64/128/256 with 1 and 2 cores.
* ``steps``: steps_per_execution 1 vs 8 (does Keras's per-step Python loop matter?).
* ``profile``: where a step's time goes (:mod:`benchmarks.profile_step`).

Absolute numbers depend on what else the machine runs; read ratios measured in the same
rounds. ``--markdown FILE`` writes the tables as Markdown (pasted into the README).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "src"), str(ROOT)]  # this checkout's ganzoo (src layout), benchmarks.*
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from benchmarks.runner import WorkerError, interleave, ratio  # noqa: E402

BASELINE_ENTRIES = ("dcgan_mnist", "cgan_mnist")
PRECISIONS = ("float32", "mixed_bfloat16", "mixed_float16")
SECTIONS = ("limit", "flops", "train", "generate", "evaluate", "scaling", "steps", "profile")


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# ---------------------------------------------------------------------- sections run in subprocesses

def _python_json(code: str, timeout: float = 7200) -> dict:
    """Run ``code`` (which prints one JSON line last) in a fresh interpreter."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT / "src"), str(ROOT)]))  # as in this process
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=str(ROOT), env=env,
                         timeout=timeout)
    if out.returncode:
        raise RuntimeError(out.stderr[-3000:])
    return json.loads(out.stdout.strip().splitlines()[-1])


def run_limit(tiny: bool) -> dict:
    return _python_json("import json; from benchmarks import machine_limit as m; "
                        f"print(json.dumps(m.measure({0.3 if tiny else 2.0}, tiny={tiny})))")


def run_flops(entries, batch: int, validate: bool) -> dict:
    code = ("import json; from benchmarks import flops as f; "
            f"rows = f.flops_table({list(entries)!r}, {batch}, {BASELINE_ENTRIES!r}); "
            f"val = f.validate('cgan_mnist', {batch}) if {validate} else None; "
            "print(json.dumps({'rows': rows, 'validation': val}))")
    return _python_json(code)


def run_profile(entry: str, precision: str, batch: int, rounds: int) -> dict:
    return _python_json("import json; from benchmarks import profile_step as p; "
                        f"print(json.dumps(p.profile({entry!r}, {batch}, {precision!r}, {rounds})))")


# ---------------------------------------------------------------------- the suite

def train_specs(entry: str, precisions, jits, batch: int, baseline: bool, common: dict) -> list:
    specs = [dict(kind="train", impl="ganzoo", entry=entry, batch=batch, jit=j, precision=p, **common)
             for p in precisions for j in jits]
    if baseline:
        bf16_graph = "mixed_bfloat16" in precisions and False in jits
        # ganzoo without its bfloat16 CPU thread layout (TensorFlow's default threads).
        if bf16_graph:
            specs.append(dict(kind="train", impl="ganzoo", entry=entry, batch=batch, jit=False,
                              precision="mixed_bfloat16", cpu_threads="tensorflow", **common))
        specs += [dict(kind="train", impl="baseline", entry=entry, batch=batch, jit=j, precision=p, **common)
                  for p in precisions if p != "mixed_float16" for j in jits]
        # The baseline under ganzoo's CPU thread layout for bfloat16 (train.cpu_threads: auto),
        # to separate what the layout gives from what ganzoo's step does with it.
        if bf16_graph:
            specs.append(dict(kind="train", impl="baseline", entry=entry, batch=batch, jit=False,
                              precision="mixed_bfloat16", cpu_threads="ganzoo", **common))
    return specs


def _find(results, **match):
    for r in results:
        if all(r["spec"].get(k) == v for k, v in match.items()):
            return r
    return None


def achieved(result: dict, flops_rows: list, limit: dict) -> None:
    """Add achieved GFLOP/s and the fraction of the same precision's measured peak."""
    spec = result["spec"]
    # FLOPs per image hardly depend on the batch (only spectral norm's per-call power iteration).
    row = next((f for f in flops_rows if f["entry"] == spec["entry"] and f["impl"] == spec.get("impl", "ganzoo")),
               None)
    if row is None or not limit or not row.get("per_image"):
        return
    gflops = result["median"] * row["per_image"] / 1e9
    dtype = "bfloat16" if "bfloat16" in spec.get("precision", "") else "float32"
    peak = limit["peak"].get(dtype, limit["peak"]["float32"])["any"]
    result["gflops"] = gflops
    result["peak_gflops"] = peak
    result["fraction_of_peak"] = gflops / peak


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    p.add_argument("--sections", default=",".join(SECTIONS))
    p.add_argument("--entries", help="comma-separated entries for the train/generate sections")
    p.add_argument("--precisions", default=",".join(PRECISIONS))
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--repeat-seconds", type=float, default=3.0)
    p.add_argument("--quick", action="store_true",
                   help="limit, flops and the train comparison for dcgan_mnist/cgan_mnist only")
    p.add_argument("--tiny", action="store_true", help="a seconds-long smoke run (tests)")
    p.add_argument("--json", default=str(ROOT / "benchmarks" / "results" / "suite.json"))
    p.add_argument("--markdown", help="also write the tables as Markdown here")
    args = p.parse_args(argv)

    sections = [s for s in args.sections.split(",") if s]
    unknown = set(sections) - set(SECTIONS)
    if unknown:
        p.error(f"unknown section(s) {', '.join(sorted(unknown))}; choose from {', '.join(SECTIONS)}")
    entries = args.entries.split(",") if args.entries else _all_mnist_and_cifar10()
    precisions = args.precisions.split(",")
    repeats, repeat_s, warmup_s = args.repeats, args.repeat_seconds, 3.0
    if args.quick:
        sections = [s for s in sections if s in ("limit", "flops", "train", "profile")]
        entries = [e for e in entries if e in BASELINE_ENTRIES] or list(BASELINE_ENTRIES)
        precisions = [q for q in precisions if q != "mixed_float16"]
    if args.tiny:
        sections = [s for s in sections if s in ("limit", "flops", "train")]
        entries, precisions = ["dcgan_mnist"], ["float32"]
        repeats, repeat_s, warmup_s = 2, 0.2, 0.2
    common = dict(repeat_s=repeat_s, warmup_s=warmup_s)
    jits = [False] if args.tiny else [False, True]

    report = {"started": datetime.datetime.now().isoformat(timespec="seconds"), "argv": sys.argv[1:],
              "machine": _machine(), "batch_size": args.batch_size, "repeats": repeats}
    t_start = time.time()
    save = lambda: _save(report, args.json, args.batch_size)  # noqa: E731 - partial results survive a stop

    if "limit" in sections:
        log("# machine limit (start)")
        report["limit_start"] = run_limit(args.tiny)
    if "flops" in sections or "train" in sections:
        log("# FLOPs per training step")
        flop_entries = sorted(set(entries) | ({"cgan_mnist", "dcgan_mnist"} if "scaling" in sections else set()))
        report["flops"] = {str(args.batch_size): run_flops(flop_entries, args.batch_size,
                                                           validate="flops" in sections and not args.tiny)}
        save()
    if "train" in sections:
        report["train"], report["ratios"] = [], []
        # The baseline comparison first: it is the headline.
        for entry in sorted(entries, key=lambda e: e not in BASELINE_ENTRIES):
            # With a baseline: one group per XLA setting (5 processes alive at a time, not 10);
            # every ratio to the baseline is then taken within one group's rounds.
            for group_jits in [[j] for j in jits] if entry in BASELINE_ENTRIES else [jits]:
                log(f"# train {entry} (XLA {'/'.join('on' if j else 'off' for j in group_jits)})")
                specs = train_specs(entry, precisions, group_jits, args.batch_size,
                                    baseline=entry in BASELINE_ENTRIES, common=common)
                results = _group(report, f"train {entry}", specs, repeats)
                report["train"].extend(results)
                if entry in BASELINE_ENTRIES:
                    report["ratios"].extend(_baseline_ratios(entry, results, precisions, group_jits))
                save()
    if "profile" in sections:
        report["profile"] = []
        for entry in BASELINE_ENTRIES:
            for q in [x for x in precisions if x != "mixed_float16"]:
                log(f"# profile {entry} {q}")
                try:
                    report["profile"].append(run_profile(entry, q, args.batch_size, repeats))
                except RuntimeError as err:
                    report.setdefault("errors", []).append({"group": f"profile {entry} {q}", "error": str(err)})
                save()
    if "steps" in sections:
        report["steps_per_execution"] = []
        for entry in BASELINE_ENTRIES:
            log(f"# steps_per_execution {entry}")
            specs = [dict(kind="train", impl="ganzoo", entry=entry, batch=args.batch_size, jit=False,
                          precision=q, steps_per_execution=spe, **common)
                     for q in precisions if q != "mixed_float16" for spe in (1, 8)]
            report["steps_per_execution"].extend(_group(report, f"steps {entry}", specs, repeats))
            save()
    if "generate" in sections or "evaluate" in sections:
        report["inference"] = []
        for kind in [k for k in ("generate", "evaluate") if k in sections]:
            for entry in entries if kind == "generate" else _one_entry_per_shape(entries):
                log(f"# {kind} {entry}")
                variants = [dict(jit=j, precision=q) for q in precisions for j in (False, True)]
                variants.append(dict(jit="api", precision="float32"))
                spec = dict(kind=kind, entry=entry, batch=256, jit=False, precision="float32",
                            variants=variants, **common)
                report["inference"].extend(_group(report, f"{kind} {entry}", [spec], repeats))
                save()
    if "scaling" in sections:
        report["scaling"] = []
        for entry in BASELINE_ENTRIES:
            for q in [x for x in precisions if x != "mixed_float16"]:
                log(f"# scaling {entry} {q}")
                specs = [dict(kind="train", impl="ganzoo", entry=entry, batch=b, jit=False, precision=q,
                              threads=t, **common) for t in (1, 2) for b in (32, 64, 128, 256)]
                report["scaling"].extend(_group(report, f"scaling {entry} {q}", specs, repeats))
                save()
    if "limit" in sections:
        log("# machine limit (end)")
        report["limit_end"] = run_limit(args.tiny)
        report["limit"] = _best_limit(report["limit_start"], report["limit_end"])

    report["seconds"] = time.time() - t_start
    save()
    print(format_report(report))
    if args.json:
        log(f"wrote {args.json}")
    if args.markdown:
        Path(args.markdown).write_text(format_markdown(report))
        log(f"wrote {args.markdown}")
    return 0


def _save(report: dict, path, batch: int) -> None:
    """Fill in achieved FLOP rates (when the limit is known) and write the JSON."""
    limit = report.get("limit") or ({"peak": report["limit_start"]["peak"]} if "limit_start" in report else None)
    flops_rows = report.get("flops", {}).get(str(batch), {}).get("rows", [])
    for result in report.get("train", []) + report.get("scaling", []) + report.get("steps_per_execution", []):
        achieved(result, flops_rows, limit)
    if path:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_text(json.dumps(report, indent=1))


def _all_mnist_and_cifar10() -> list:
    import ganzoo  # noqa: PLC0415 (config only: no TensorFlow import)

    return ganzoo.list_models("*_mnist") + ganzoo.list_models("*_cifar10")


def _group(report: dict, what: str, specs: list, repeats: int) -> list:
    """:func:`interleave`, recording a failing group in ``report["errors"]`` instead of stopping."""
    try:
        return interleave(specs, repeats, log=log)
    except WorkerError as err:
        log(f"  FAILED: {err}")
        report.setdefault("errors", []).append({"group": what, "error": str(err)[-2000:]})
        return []


def _one_entry_per_shape(entries) -> list:
    """The evaluation classifier depends only on the image shape: one entry per dataset."""
    seen, out = set(), []
    for e in entries:
        key = "mnist" if e.endswith("_mnist") else "cifar10" if e.endswith("_cifar10") else e
        if key not in seen:
            seen.add(key)
            out.append(e)
    return out


def _baseline_ratios(entry, results, precisions, jits) -> list:
    """ganzoo / baseline per round: like for like, and ganzoo's recommended setting vs the
    baseline's default (float32, Keras's jit_compile="auto" = graph mode on CPU)."""
    rows = []
    base_default = _find(results, impl="baseline", precision="float32", jit=False, cpu_threads=None)
    for q in precisions:
        for j in jits:
            mine = _find(results, impl="ganzoo", precision=q, jit=j, cpu_threads=None)
            others = [("ganzoo's thread layout vs TensorFlow's default",
                       _find(results, impl="ganzoo", precision=q, jit=j, cpu_threads="tensorflow")),
                      ("like for like", _find(results, impl="baseline", precision=q, jit=j, cpu_threads=None)),
                      ("like for like, same threads",
                       _find(results, impl="baseline", precision=q, jit=j, cpu_threads="ganzoo"))]
            if (q, j) != ("float32", False):
                others.append(("vs baseline default", base_default))
            for kind, other in others:
                if mine and other:
                    rows.append({"entry": entry, "ganzoo": mine["label"], "baseline": other["label"],
                                 "kind": kind, **ratio(mine, other)})
    return rows


def _best_limit(a: dict, b: dict) -> dict:
    peak = {}
    for dtype in a["peak"]:
        peak[dtype] = {k: max(a["peak"][dtype][k], b["peak"][dtype][k]) for k in a["peak"][dtype]}
    return {"peak": peak, "rows_start": a["rows"], "rows_end": b["rows"]}


def _machine() -> dict:
    info = {"platform": platform.platform(), "python": platform.python_version(), "cpu_count": os.cpu_count()}
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                info["cpu"] = line.split(":", 1)[1].strip()
            if line.startswith("flags"):
                flags = line.split(":", 1)[1].split()
                info["bf16"] = [f for f in flags if "bf16" in f or f.startswith("amx")]
                break
        info["loadavg_at_start"] = os.getloadavg()
    except OSError:
        pass
    return info


# ---------------------------------------------------------------------- formatting

def _fmt_rate(r: dict) -> str:
    return f"{r['median']:.0f} ({r['min']:.0f}-{r['max']:.0f})"


def _rows(report: dict) -> dict:
    """Table rows (header, rows) per section, shared by the text and Markdown output."""
    tables = {}
    if report.get("limit"):
        rows = []
        for dtype, peak in report["limit"]["peak"].items():
            rows.append([dtype, f"{peak['matmul']:.0f}", f"{peak['conv']:.0f}"])
        tables["machine limit (GFLOP/s, best of start and end)"] = (["dtype", "matmul", "conv"], rows)
    if report.get("train"):
        rows = []
        for r in report["train"]:
            s = r["spec"]
            impl = s.get("impl", "ganzoo") + {"ganzoo": " (ganzoo threads)", "tensorflow": " (TensorFlow threads)",
                                              None: ""}[s.get("cpu_threads")]
            rows.append([s["entry"], impl, "on" if s["jit"] else "off", s["precision"], r.get("threads", ""),
                         _fmt_rate(r), f"{r.get('gflops', float('nan')):.1f}",
                         f"{100 * r.get('fraction_of_peak', float('nan')):.1f}%", f"{r['peak_rss_mb']:.0f}",
                         r.get("data", "")])
        tables["training images/s (median (min-max) of interleaved repeats)"] = (
            ["entry", "impl", "XLA", "precision", "threads", "images/s", "GFLOP/s", "of peak", "peak RSS MB", "data"], rows)
    if report.get("ratios"):
        rows = [[r["entry"], r["ganzoo"].split("/", 3)[-1], r["baseline"].split("/", 3)[-1], r["kind"],
                 f"{r['median']:.2f}x ({r['min']:.2f}-{r['max']:.2f})"] for r in report["ratios"]]
        tables["ganzoo / plain keras.io-style GAN (per-round ratios)"] = (
            ["entry", "ganzoo", "baseline", "comparison", "ratio"], rows)
    if report.get("steps_per_execution"):
        rows = [[r["spec"]["entry"], r["spec"]["precision"], str(r["spec"].get("steps_per_execution", 1)),
                 _fmt_rate(r)] for r in report["steps_per_execution"]]
        tables["steps_per_execution"] = (["entry", "precision", "steps/execution", "images/s"], rows)
    if report.get("inference"):
        rows = []
        for r in report["inference"]:
            s = r["spec"]
            mode = {True: "xla", False: "graph", "api": "model.generate" if s["kind"] == "generate"
                    else "extractor.predict"}[s["jit"]]
            rows.append([s["kind"], s["entry"], mode, s["precision"], _fmt_rate(r), f"{r['peak_rss_mb']:.0f}"])
        tables["generation / evaluation images/s (batch 256)"] = (
            ["kind", "entry", "mode", "precision", "images/s", "peak RSS MB"], rows)
    if report.get("scaling"):
        rows = [[r["spec"]["entry"], r["spec"]["precision"], str(r["spec"]["batch"]), str(r["spec"]["threads"]),
                 r.get("threads", ""), _fmt_rate(r), f"{r['peak_rss_mb']:.0f}"] for r in report["scaling"]]
        tables["scaling (graph mode)"] = (["entry", "precision", "batch", "cores", "threads", "images/s",
                                           "peak RSS MB"], rows)
    if report.get("profile"):
        rows = []
        for prof in report["profile"]:
            total = prof["breakdown_cpu_ms"]["fit step total"]
            for k, v in prof["breakdown_cpu_ms"].items():
                rows.append([prof["entry"], prof["precision"], k, f"{v:.1f}",
                             "" if k == "fit step total" else f"{100 * v / total:.0f}%"])
        tables["where a step's time goes (CPU ms per step)"] = (["entry", "precision", "part", "CPU ms", "share"],
                                                               rows)
        rows = [[prof["entry"], prof["precision"], prof.get("threads", ""),
                 ", ".join(f"{k} {v:.0f}" for k, v in prof.get("op_groups_ms", {}).items())]
                for prof in report["profile"] if prof.get("op_groups_ms")]
        if rows:
            tables["train_step by op group (ms per step from a profiler trace; ops running side by side "
                   "each count)"] = (["entry", "precision", "threads", "ms per op group"], rows)
    return tables


def format_report(report: dict) -> str:
    out = []
    for title, (header, rows) in _rows(report).items():
        widths = [max(len(str(x)) for x in col) for col in zip(header, *rows)]
        out.append(f"\n== {title}")
        out.append("  ".join(h.ljust(w) for h, w in zip(header, widths)))
        out.extend("  ".join(str(x).ljust(w) for x, w in zip(row, widths)) for row in rows)
    for err in report.get("errors", []):
        out.append(f"\nFAILED {err['group']}: {err['error'].strip().splitlines()[-1] if err['error'].strip() else ''}")
    val = (report.get("flops", {}).get(str(report["batch_size"]), {}) or {}).get("validation")
    if val:
        ts = val["train_step"]
        out.append(f"\nFLOP count check (cgan_mnist, batch {val['batch']}): analytic {ts['analytic'] / 1e9:.2f} "
                   f"vs TensorFlow graph {ts['tensorflow'] / 1e9:.2f} GFLOP per step ({100 * ts['rel_diff']:+.1f}%)")
    return "\n".join(out)


def format_markdown(report: dict) -> str:
    out = []
    for title, (header, rows) in _rows(report).items():
        out.append(f"\n**{title}**\n")
        out.append("| " + " | ".join(header) + " |")
        out.append("|" + "---|" * len(header))
        out.extend("| " + " | ".join(str(x) for x in row) + " |" for row in rows)
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    raise SystemExit(main())
