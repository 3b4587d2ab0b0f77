#!/usr/bin/env python3
"""The ratios issue 12's targets are stated in, from one `sockit bench --json` run.

    scripts/bench-ratios.py BENCH.json

Prints Markdown tables (docs/BENCHMARKS.md keeps the latest):
- p50 round trip of each sockit path (the blocking API, the event loop on each
  backend) divided by the raw-syscall p50 of the same transport in the same run;
- 64 KiB one-way throughput of the blocking API divided by raw's;
- the shared-memory ring against the best socket transport (RTT and 64 B rate).
Every figure comes from the JSON; nothing is assumed. A ratio whose inputs are
missing (a path not measured) is left out, not guessed.
"""
import json
import sys


def main() -> int:
    if len(sys.argv) != 2:
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        return 2
    with open(sys.argv[1]) as f:
        run = json.load(f)
    results = [r for r in run["results"] if "skipped" not in r]
    rtt = {(r["transport"], r["path"]): r["rtt_ns"]["p50"] for r in results if r["measure"] == "rtt"}
    rate = {(r["transport"], r["path"], r["message_bytes"]): r for r in results if r["measure"] == "throughput"}
    transports = list(dict.fromkeys(r["transport"] for r in results))
    paths = [p for p in dict.fromkeys(r["path"] for r in results if r["measure"] == "rtt") if p != "raw"]

    m = run["machine"]
    print(f"Run: {m['kernel']}, {m['cpu_model']}, {m['cores']} cores; "
          f"{run['settings']['duration_s']} s per figure after a {run['settings']['warmup_s']} s warm-up.\n")

    print("p50 RTT of each path / raw syscalls' p50 (same transport, same run; 64 B)\n")
    print("| transport | raw p50 µs | " + " | ".join(paths) + " |")
    print("|---|---:|" + "---:|" * len(paths))
    worst = {p: (0.0, "") for p in paths}
    for t in transports:
        raw = rtt.get((t, "raw"))
        if raw is None:
            continue
        cells = []
        for p in paths:
            v = rtt.get((t, p))
            if v is None:
                cells.append("")
                continue
            ratio = v / raw
            cells.append(f"{ratio:.2f}")
            if ratio > worst[p][0]:
                worst[p] = (ratio, t)
        print(f"| {t} | {raw / 1000:.2f} | " + " | ".join(cells) + " |")
    print("| **worst** | | " + " | ".join(f"**{w:.2f}** ({t})" if t else "" for w, t in worst.values()) + " |")

    print("\n64 KiB one-way throughput, sockit blocking API / raw syscalls (same run)\n")
    print("| transport | raw MB/s | sockit MB/s | ratio |")
    print("|---|---:|---:|---:|")
    for t in transports:
        raw = rate.get((t, "raw", 65536))
        ours = rate.get((t, "sockit", 65536))
        if raw and ours:
            print(f"| {t} | {raw['mb_per_s']:.0f} | {ours['mb_per_s']:.0f} | {ours['mb_per_s'] / raw['mb_per_s']:.2f} |")

    shm_rtt = rtt.get(("shm", "sockit"))
    shm_64 = rate.get(("shm", "sockit", 64))
    sockets = [t for t in transports if t not in ("shm", "pipe", "fifo")]
    if shm_rtt and shm_64 and sockets:
        best_rtt = min((v, t) for (t, p), v in rtt.items() if t in sockets)
        best_64 = max((r["messages_per_s"], f"{t} {p}") for (t, p, size), r in rate.items() if t in sockets and size == 64)
        print("\nShared-memory ring against the best socket transport of the run\n")
        print("| figure | shm ring | best socket (which) | ratio |")
        print("|---|---:|---:|---:|")
        print(f"| p50 RTT µs (lower is better) | {shm_rtt / 1000:.2f} | {best_rtt[0] / 1000:.2f} ({best_rtt[1]}) | "
              f"{best_rtt[0] / shm_rtt:.0f}x faster |")
        print(f"| 64 B messages/s | {shm_64['messages_per_s']:,.0f} | {best_64[0]:,.0f} ({best_64[1]}) | "
              f"{shm_64['messages_per_s'] / best_64[0]:.2f}x |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
