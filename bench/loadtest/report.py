"""The run's figures: per operation requests/s and p50/p95/p99, MB/s up and down, errors by status inside and
outside the fault windows, RSS per process; printed as a table and written as JSON."""

import json
import math
from collections import Counter
from pathlib import Path

GRACE = 3.0  # seconds after a fault's window still counted as its own


def percentile(values: list[float], p: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, math.ceil(p / 100 * len(ordered)) - 1)], 1)


def _window(attempt, faults: list[dict]) -> str | None:
    for fault in faults:
        if attempt.start <= fault["end"] + GRACE and attempt.end >= fault["start"]:
            return fault["fault"]
    return None


def summarize(attempts, faults: list[dict], seconds: float) -> dict:
    ops: dict[str, dict] = {}
    for op in sorted({a.op for a in attempts}):
        mine = [a for a in attempts if a.op == op]
        ok = [(a.end - a.start) * 1000 for a in mine if 200 <= a.status < 400]
        ops[op] = {
            "requests": len(mine),
            "per_s": round(len(mine) / seconds, 2),
            "p50_ms": percentile(ok, 50),
            "p95_ms": percentile(ok, 95),
            "p99_ms": percentile(ok, 99),
            "errors": dict(Counter(str(a.status) for a in mine if not 200 <= a.status < 400)),
        }
    failed = [a for a in attempts if a.status == 0 or a.status >= 500]
    outside = [a for a in failed if _window(a, faults) is None]
    inside: dict[str, Counter] = {}
    for a in failed:
        if (name := _window(a, faults)) is not None:
            inside.setdefault(name, Counter())[f"{a.op} {a.status or 'no answer'}"] += 1
    client_errors = Counter(f"{a.op} {a.status}" for a in attempts if 400 <= a.status < 500)
    return {
        "seconds": round(seconds, 1),
        "requests": len(attempts),
        "requests_per_s": round(len(attempts) / seconds, 1),
        "mb_s_up": round(sum(a.up for a in attempts) / seconds / 1e6, 2),
        "mb_s_down": round(sum(a.down for a in attempts) / seconds / 1e6, 2),
        "operations": ops,
        "5xx_or_no_answer_outside_fault_windows": len(outside),
        "outside_fault_windows": [f"{a.op} {a.status} at {a.start:.1f}s: {a.note[:120]}" for a in outside[:20]],
        "inside_fault_windows": {name: dict(c) for name, c in inside.items()},
        "4xx": dict(client_errors),
        "samples_503": sorted({a.note[:160] for a in failed if a.status == 503 and a.note})[:3],
    }


def rss_summary(samples: list[dict[str, float]]) -> dict[str, dict]:
    names = sorted({name for sample in samples for name in sample})
    return {
        name: {
            "max_mb": round(max(s.get(name, 0) for s in samples), 0),
            "mean_mb": round(sum(s.get(name, 0) for s in samples) / len(samples), 0),
        }
        for name in names
    }


def _ms(value) -> str:
    return "-" if value is None else f"{value:.0f}"


def print_table(result: dict) -> None:
    load = result["load"]
    print(
        f"\n== load: {result['users']} lawyers, {load['seconds']} s: {load['requests']} requests "
        f"({load['requests_per_s']}/s), up {load['mb_s_up']} MB/s, down {load['mb_s_down']} MB/s"
    )
    print(f"  {'operation':<18} {'requests':>8} {'per s':>7} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8}  errors")
    for op, f in load["operations"].items():
        errors = ", ".join(f"{k}: {v}" for k, v in f["errors"].items()) or "-"
        print(
            f"  {op:<18} {f['requests']:>8} {f['per_s']:>7} {_ms(f['p50_ms']):>8} {_ms(f['p95_ms']):>8} "
            f"{_ms(f['p99_ms']):>8}  {errors}"
        )
    print(f"  5xx or no answer outside the fault windows: {load['5xx_or_no_answer_outside_fault_windows']} (target 0)")
    for line in load["outside_fault_windows"]:
        print(f"    {line}")
    print(f"  4xx: {load['4xx'] or 'none'}")
    print("== faults")
    for fault in result["faults"]:
        extra = {k: v for k, v in fault.items() if k not in ("fault", "start", "end")}
        print(f"  {fault['start']:6.1f}-{fault['end']:6.1f} s  {fault['fault']}: {extra}")
        failed = load["inside_fault_windows"].get(fault["fault"])
        print(f"      failed requests in the window: {failed or 'none'}")
    for sample in load["samples_503"]:
        print(f"  a 503's words: {sample}")
    print("== checks")
    for key, value in result["checks"].items():
        print(f"  {key}: {value}")
    print("== RSS per process (MB, with what it started)")
    for name, f in result["rss"].items():
        print(f"  {name:<16} max {f['max_mb']:>6.0f}  mean {f['mean_mb']:>6.0f}")
    print("== upload throughput through S3:", result["s3_throughput"])
    print("== database pool under an upload storm:", result["pool"])


def write_json(result: dict, out_dir: Path) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"loadtest-{result['started']}.json"
    path.write_text(json.dumps(result, indent=2, default=str))
    return path
