"""Wall time of the commands a newcomer types first, each in a fresh process (as from a shell):
the median and range of several runs, and whether TensorFlow was imported.

    python -m benchmarks.cli_latency [--repeats 7] [--json benchmarks/results/cli_latency.json]

``ganzoo --help``, ``ganzoo list`` and ``ganzoo info NAME`` read YAML/JSON files only. The last
row runs ``list`` after a plain ``import ganzoo`` (which imports the models, i.e. TensorFlow and
Keras, so that ``keras.saving.load_model`` works): what every command cost before the CLI
skipped that import.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

COMMANDS = {
    "ganzoo --help": ["-m", "ganzoo", "--help"],
    "ganzoo list": ["-m", "ganzoo", "list"],
    "ganzoo info dcgan_mnist": ["-m", "ganzoo", "info", "dcgan_mnist"],
    # For comparison: the same `list` after a plain `import ganzoo` (imports TensorFlow and Keras).
    "import ganzoo; list (eager)": ["-c", "import ganzoo, sys; from ganzoo.cli import main; sys.exit(main(['list']))"],
}


def time_command(args: list[str], repeats: int) -> dict:
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    env.pop("GANZOO_LAZY_IMPORT", None)
    seconds, tensorflow = [], False
    for _ in range(repeats):
        start = time.perf_counter()
        out = subprocess.run([sys.executable, "-X", "importtime", *args], cwd=ROOT, env=env, capture_output=True,
                             text=True)
        seconds.append(time.perf_counter() - start)
        if out.returncode != 0:
            raise RuntimeError(f"{' '.join(args)} failed: {out.stderr[-2000:]}")
        tensorflow = tensorflow or any(line.rsplit("|", 1)[-1].strip() == "tensorflow"
                                       for line in out.stderr.splitlines() if line.startswith("import time:"))
    return {"median_s": round(statistics.median(seconds), 3), "min_s": round(min(seconds), 3),
            "max_s": round(max(seconds), 3), "runs": repeats, "imports_tensorflow": tensorflow}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--repeats", type=int, default=7)
    p.add_argument("--json", help="write the results here")
    args = p.parse_args(argv)
    rows = {}
    print(f"{'command':32} {'median s':>9} {'min s':>7} {'max s':>7}  TensorFlow")
    for name, command in COMMANDS.items():
        row = rows[name] = time_command(command, args.repeats)
        print(f"{name:32} {row['median_s']:9.2f} {row['min_s']:7.2f} {row['max_s']:7.2f}  "
              f"{'imported' if row['imports_tensorflow'] else 'no'}", flush=True)
    if args.json:
        result = {"python": sys.version.split()[0], "cpus": os.cpu_count(), "load_avg": os.getloadavg(),
                  "note": "-X importtime adds a little to every run", "commands": rows}
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
