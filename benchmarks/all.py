"""Every benchmark at a modest size, one after another, then one table (`make bench`).

Each benchmark runs in its own process and prints its own figures as it goes; the table at the end gives, per
benchmark, the size it ran at, its wall time, whether it finished and its main figures (the lines the table names
per script). Sizes are chosen so the whole run takes a few minutes on 2 cores; run a script on its own for
the sizes the README's figures come from (see docs/performance.md).

    python benchmarks/all.py
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent

RUNS: list[tuple[str, list[str], tuple[str, ...]]] = [
    # (script, arguments, the prefixes of the lines of figures that go into the table)
    ("polling.py", ["--queries", "1000000", "--days", "7"], ("backfill / floor", "steady-state cycle", "agent peak")),
    ("cost_attribution.py", ["--queries", "1000000"], ("attribution /", "exact:")),
    ("anomaly_scale.py", ["--series", "100", "300"], ("100 ", "300 ")),
    ("anomaly_quality.py", ["--seeds", "1", "--scales", "20000"], ("medium",)),
    ("faults.py", ["--alerts", "200", "--kills", "20"], ("sink faults:", "kills:")),
]


def figures_of(output: str, prefixes: tuple[str, ...]) -> str:
    """The lines of ``output`` that start with one of ``prefixes`` (the benchmark's own figures), joined."""
    lines = [" ".join(line.split()) for line in output.splitlines()]
    return " · ".join(line for line in lines if line.startswith(prefixes))


def _error(output: str) -> str:
    """The last line of a failed benchmark's stderr (the exception)."""
    lines = [line.strip() for line in output.strip().splitlines() if line.strip()]
    return lines[-1] if lines else ""


def main() -> int:
    """Run every benchmark; print the table; exit 1 if any failed."""
    rows = []
    for script, args, prefixes in RUNS:
        print(f"=== {script} {' '.join(args)}", flush=True)
        began = time.perf_counter()
        done = subprocess.run([sys.executable, str(HERE / script), *args], capture_output=True, text=True, check=False)
        wall = time.perf_counter() - began
        sys.stdout.write(done.stdout)
        sys.stderr.write(done.stderr[-4000:])
        rows.append(
            {
                "benchmark": script,
                "size": " ".join(args),
                "wall_s": round(wall, 1),
                "status": "ok" if done.returncode == 0 else f"FAILED ({done.returncode})",
                "figures": figures_of(done.stdout, prefixes) if done.returncode == 0 else _error(done.stderr),
            }
        )
    print()
    widths = {k: max(len(k), *(len(str(r[k])) for r in rows)) for k in ("benchmark", "size", "wall_s", "status")}
    print("  ".join(k.ljust(w) for k, w in widths.items()) + "  figures")
    for r in rows:
        print("  ".join(str(r[k]).ljust(w) for k, w in widths.items()) + f"  {r['figures']}")
    print(json.dumps(rows))
    return 0 if all(r["status"] == "ok" for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
