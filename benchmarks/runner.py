"""Run benchmark configurations side by side: one process each, repeats interleaved.

:func:`interleave` starts one :mod:`benchmarks.worker` process per spec, one after the other
(so tracing and XLA compilation do not compete), and when all wait, runs ``repeats`` rounds.
Round r runs every worker once, in spec order on even rounds and reversed on odd ones
(A B C, C B A, A B C, ...): a load change on the shared machine lands on all
configurations of a round, and the ABBA order cancels a linear drift within a round.
Per-round ratios between two configurations (:func:`ratio`) are therefore measured
under the same conditions; their median and range are what the tables report.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

WORKER = Path(__file__).resolve().with_name("worker.py")


class WorkerError(RuntimeError):
    pass


class Worker:
    """A running :mod:`benchmarks.worker` process."""

    def __init__(self, spec: dict, timeout: float = 1800.0):
        self.spec = spec
        self.timeout = timeout
        self.proc = subprocess.Popen([sys.executable, str(WORKER), json.dumps(spec)], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, bufsize=1)
        self.ready = self._read("ready")

    def _read(self, wanted: str) -> dict:
        while True:
            line = self.proc.stdout.readline()
            if not line:
                err = self.proc.stderr.read()[-3000:]
                raise WorkerError(f"worker {label(self.spec)} exited: {err}")
            line = line.strip()
            if not line.startswith("{"):
                continue
            msg = json.loads(line)
            if msg.get("event") == "error":
                err = self.proc.stderr.read()[-3000:]
                raise WorkerError(f"worker {label(self.spec)} failed: {msg['message']}\n{err}")
            if msg.get("event") == wanted:
                return msg

    def run(self) -> dict:
        self.proc.stdin.write("run\n")
        self.proc.stdin.flush()
        return self._read("result")

    def close(self) -> dict:
        try:
            self.proc.stdin.write("quit\n")
            self.proc.stdin.flush()
            done = self._read("done")
        finally:
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        return done

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()


def label(spec: dict) -> str:
    jit = {True: "xla", False: "graph", "api": "api"}[spec.get("jit", False)]
    what = spec.get("impl", "ganzoo") if spec["kind"] == "train" else spec["kind"]
    if spec["kind"] == "step":
        what = f"step-{spec.get('impl', 'ganzoo')}"
    parts = [what, spec["entry"], f"b{spec['batch']}", jit, spec.get("precision", "float32")]
    if spec.get("backend", "tensorflow") != "tensorflow":
        parts.insert(1, spec["backend"])
    if spec.get("ema") is False:
        parts.append("no-ema")
    if spec.get("threads"):
        parts.append(f"t{spec['threads']}")
    if spec.get("cpu_threads"):
        parts.append(f"{spec['cpu_threads']}-threads")
    if spec.get("steps_per_execution", 1) != 1:
        parts.append(f"spe{spec['steps_per_execution']}")
    return "/".join(parts)


def interleave(specs: list[dict], repeats: int = 5, log=print) -> list[dict]:
    """Run ``specs`` side by side; one result dict per spec (``rates``: images/s per round)."""
    workers: list[Worker] = []
    results = []
    try:
        for spec in specs:
            t = time.perf_counter()
            workers.append(Worker(spec))
            log(f"  ready {label(spec)} ({time.perf_counter() - t:.0f} s)")
        # One row per configuration: a worker with "variants" holds several.
        rows = [(w, j, {**w.spec, **v} if "variants" in w.spec else w.spec)
                for w in workers for j, v in enumerate(w.spec.get("variants", [None]))]
        rates = [[] for _ in rows]
        for r in range(repeats):
            order = range(len(workers)) if r % 2 == 0 else reversed(range(len(workers)))
            got = {}
            for i in order:
                res = workers[i].run()
                got[i] = res.get("parts", [res])
            for k, (w, j, _) in enumerate(rows):
                part = got[workers.index(w)][j]
                rates[k].append(part["images"] / part["seconds"])
            log(f"  round {r + 1}/{repeats}: " + ", ".join(f"{x[-1]:.0f}" for x in rates))
        done = {id(w): w.close() for w in workers}
        for (w, _, spec), rate in zip(rows, rates):
            spec = {k: v for k, v in spec.items() if k != "variants"}
            results.append({"spec": spec, "label": label(spec), **summary(rate),
                            "rates": rate, "peak_rss_mb": done[id(w)]["peak_rss_mb"],
                            **{k: v for k, v in w.ready.items() if k != "event"}})
    finally:
        for w in workers:
            w.kill()
    return results


def summary(values: list[float]) -> dict:
    return {"median": statistics.median(values), "min": min(values), "max": max(values), "n": len(values)}


def ratio(a: dict, b: dict) -> dict:
    """Per-round ratios a/b of two results of the same :func:`interleave` call."""
    r = [x / y for x, y in zip(a["rates"], b["rates"])]
    return {**summary(r), "values": r}
