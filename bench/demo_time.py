"""Where ``make demo``'s time goes: runs each command of the Makefile's ``demo`` recipe in turn,
as make would, and times it (wall seconds), then the total.

    python -m bench.demo_time [--makefile Makefile]

Run from the checkout, after ``make .venv/.installed`` (the recipe's first step). Results:
``bench/results/demo_time.json`` (each command with its seconds and exit status).
"""

import argparse
import re
import subprocess
import time
from pathlib import Path


def demo_commands(makefile):
    """The ``demo`` recipe's command lines, with the Makefile's variables expanded by make itself
    (``make -n``: printed, not run)."""
    out = subprocess.run(["make", "-n", "-f", str(makefile), "demo"], capture_output=True, text=True, check=True)
    return [line for line in out.stdout.splitlines() if line.strip() and not re.match(r"^make(\[\d+\])?:", line)]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--makefile", default="Makefile")
    args = parser.parse_args(argv)

    from bench.common import write_results

    steps, start = [], time.perf_counter()
    for command in demo_commands(Path(args.makefile)):
        begin = time.perf_counter()
        code = subprocess.run(command, shell=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode
        seconds = time.perf_counter() - begin
        steps.append({"command": command, "seconds": round(seconds, 1), "exit": code})
        print(f"{seconds:7.1f} s  {command}" + ("" if code == 0 else f"  (exit {code})"), flush=True)
        if code:
            break
    total = time.perf_counter() - start
    print(f"{total:7.1f} s  in all ({total / 60:.1f} min)")
    write_results("demo_time", {"total_seconds": round(total, 1), "steps": steps})


if __name__ == "__main__":
    main()
