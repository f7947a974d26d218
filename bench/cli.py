"""Wall time of the everyday read commands, each run as a user runs it (a new interpreter per
command) against a running local chain. Prints ONE JSON object on stdout; progress goes to
stderr.

    .venv/bin/python bench/cli.py [--runs 5]

A private Anvil on a free port, in a temporary home that reuses the repository's build, gets
the demo's state (``attestia demo --requests 3``: a registered model, a worker, recorded
requests, a settled epoch); every command then runs ``--runs`` times and its median is
reported (goal: at most 1.0 s each on a quiet machine). Anvil is stopped whatever happens,
SIGTERM included. The load average is part of the output: figures taken on a busy machine
are not the quiet-machine figures.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.private_chain import reuse_build, stop_on_sigterm  # noqa: E402
from offchain.chain.anvil import EmbeddedChain, free_port  # noqa: E402
from offchain.config import REPO_ROOT  # noqa: E402

GOAL_S = 1.0
# (name, arguments); RID stands for a recorded request of the demo
READS: list[tuple[str, list[str]]] = [
    ("model list", ["model", "list"]),
    ("worker list", ["worker", "list"]),
    ("request status", ["request", "status", "RID"]),
    ("attribution", ["attribution", "RID"]),
    ("rewards status", ["rewards", "status"]),
    ("dispute status", ["dispute", "status", "RID"]),
    ("governance measurements", ["governance", "measurements"]),
]
BASELINES: list[tuple[str, list[str]]] = [
    ("--version", ["--version"]),
    ("status", ["status"]),
    ("dispute open without --yes (an argument error)", ["dispute", "open", "RID", "--model",
                                                        "PACKAGE"]),
]


def _attestia(env: dict[str, str], *args: str, check: bool = True) -> tuple[float, str]:
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "offchain.cli.main", *args], env=env,
                          cwd=env["ATTESTIA_HOME"], capture_output=True, text=True,
                          timeout=600, stdin=subprocess.DEVNULL)
    seconds = time.perf_counter() - started
    if check and done.returncode != 0:
        raise SystemExit(f"attestia {' '.join(args)} failed ({done.returncode}):\n"
                         f"{done.stdout}{done.stderr}")
    return seconds, done.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    runs = parser.parse_args().runs
    stop_on_sigterm()
    load_at_start = [round(x, 2) for x in os.getloadavg()]
    with tempfile.TemporaryDirectory(prefix="attestia-bench-cli-") as tmp:
        home = Path(tmp)
        reuse_build(home)
        port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("ATTESTIA_")}
        env |= {"ATTESTIA_HOME": str(home), "ATTESTIA_PORT": str(port), "COLUMNS": "200",
                "PYTHONPATH": str(REPO_ROOT)}
        if "ATTESTIA_CACHE_DIR" in os.environ:
            env["ATTESTIA_CACHE_DIR"] = os.environ["ATTESTIA_CACHE_DIR"]
        node = EmbeddedChain(home / ".attestia", port)
        try:
            print(f"starting Anvil on port {port}", file=sys.stderr)
            node.up()
            print("demo state (attestia demo --requests 3)", file=sys.stderr)
            _attestia(env, "demo", "--requests", "3", "--json")
            _, listed = _attestia(env, "request", "list", "--json")
            rid = next(r["requestId"] for r in json.loads(listed) if r["state"] == "recorded")
            package = str(home / ".attestia" / "models" / "demo")
            results: dict[str, Any] = {}
            for name, args in READS + BASELINES:
                args = [rid if a == "RID" else package if a == "PACKAGE" else a for a in args]
                check = not name.startswith("dispute open")
                _attestia(env, *args, check=check)  # warm the OS file cache first
                times = [_attestia(env, *args, check=check)[0] for _ in range(runs)]
                results[name] = {"medianS": round(statistics.median(times), 3),
                                 "runsS": [round(t, 3) for t in times]}
                print(f"{name:<48} median {results[name]['medianS']:.3f} s", file=sys.stderr)
        finally:
            node.down()
    slow = [name for name, _ in READS if results[name]["medianS"] > GOAL_S]
    print(json.dumps({"runs": runs, "goalS": GOAL_S, "cpus": os.cpu_count(),
                      "loadAverageAtStart": load_at_start,
                      "loadAverageAtEnd": [round(x, 2) for x in os.getloadavg()],
                      "commands": results, "readsOverGoal": slow}, indent=2))


if __name__ == "__main__":
    main()
