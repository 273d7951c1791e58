"""`python -m bench [--quick] [--only NAME ...]`: run every benchmark module, print one table, save JSON.

Modules are bench/startup.py and bench/*_bench.py that expose `run(quick: bool = False) -> list[dict]`.
Results go to bench/results/<UTC timestamp>.json (git-ignored). Exits 1 when a row misses its target or a
module fails, so the command can gate a change.
"""

from __future__ import annotations

import argparse
import importlib
import json
import platform
import sys
import time
import traceback
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
COLUMNS = ("figure", "paddlectl", "baseline", "ratio", "target", "ok")


def discover() -> list[str]:
    names = sorted(path.stem for path in HERE.glob("*_bench.py"))
    return ["startup", *names] if (HERE / "startup.py").is_file() else names


def row_ok(row: dict[str, Any]) -> bool | None:
    if "ok" in row:
        return bool(row["ok"])
    if row.get("target") is None or row.get("ratio") is None:
        return None
    return bool(row["ratio"] <= row["target"])


def cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "NO"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def table(rows: list[dict[str, Any]]) -> str:
    lines = [[cell(row.get(column)) for column in COLUMNS] for row in rows]
    widths = [max([len(column), *(len(line[i]) for line in lines)]) for i, column in enumerate(COLUMNS)]
    fmt = "  ".join(f"{{:<{width}}}" for width in widths)
    out = [fmt.format(*COLUMNS), fmt.format(*("-" * width for width in widths))]
    out.extend(fmt.format(*line) for line in lines)
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repetitions (a smoke run)")
    parser.add_argument(
        "--only",
        action="append",
        metavar="NAME",
        help="run only this module (e.g. startup, manifest or manifest_bench); repeatable",
    )
    args = parser.parse_args(argv)
    names = discover()
    if args.only:
        wanted = {name.removesuffix(".py") for name in args.only}
        names = [n for n in names if n in wanted or n.removesuffix("_bench") in wanted]
        if not names:
            parser.error(f"no benchmark module named {', '.join(args.only)}; have: {', '.join(discover())}")
    rows: list[dict[str, Any]] = []
    errors: dict[str, str] = {}
    for name in names:
        module = importlib.import_module(f"bench.{name}")
        if not callable(getattr(module, "run", None)):
            continue
        print(f"bench: running {name} ...", file=sys.stderr, flush=True)
        start = time.perf_counter()
        try:
            produced = module.run(quick=args.quick)
        except Exception:
            errors[name] = traceback.format_exc()
            print(f"bench: {name} FAILED\n{errors[name]}", file=sys.stderr)
            continue
        for row in produced:
            rows.append({"module": name, **row, "ok": row_ok(row)})
        print(f"bench: {name} done in {time.perf_counter() - start:.1f} s", file=sys.stderr)
    print(table(rows))
    results = HERE / "results"
    results.mkdir(exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    path = results / f"{stamp}.json"
    document = {
        "timestamp": stamp,
        "quick": args.quick,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "machine": platform.machine(),
        "rows": rows,
        "errors": errors,
    }
    path.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    print(f"bench: results in {path}", file=sys.stderr)
    missed = [row["figure"] for row in rows if row["ok"] is False]
    if missed or errors:
        summary = f"missed targets: {missed or 'none'}; failed modules: {list(errors) or 'none'}"
        print(f"bench: {summary}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
