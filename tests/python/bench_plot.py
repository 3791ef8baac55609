"""make bench: plot the end-to-end results (target/bench/e2e.json) and the criterion comparisons.

Writes <out>/bench.png: throughput ratio and Envoy CPU per MB against tcp_proxy alone at
saturation, produce latency p50/p99 at the fixed rate, Envoy CPU per record at that rate, and
the criterion benches as meshka ÷ a full kafka-protocol decode; and <out>/criterion.md.
"""
import argparse
import json
import os
import sys


CRITERION_GROUPS = ["request head decode", "pipelined produce stream", "produce decision",
                    "decision per api", "metadata response filter", "metadata response rewrite"]
# The baseline each case is divided by: a full kafka-protocol decode of the same bytes, or for a
# rewrite, kafka-protocol's decode, rewrite and encode.
BASELINES = ["kafka-protocol full decode", "kafka-protocol decode, rename, encode"]


def fmt_ns(ns):
    for unit, div in (("s", 1e9), ("ms", 1e6), ("µs", 1e3)):
        if ns >= div:
            return f"{ns / div:.3g} {unit}"
    return f"{ns:.3g} ns"


def criterion_table(root, out):
    """Medians from criterion's estimates: meshka against the kafka-protocol baseline per case."""
    rows = []
    for group in CRITERION_GROUPS:
        gdir = os.path.join(root, group)
        if not os.path.isdir(gdir):
            continue
        cases = {}
        for function in sorted(os.listdir(gdir)):
            fdir = os.path.join(gdir, function)
            if not os.path.isdir(fdir) or function == "report":
                continue
            for param in os.listdir(fdir):
                est = os.path.join(fdir, param, "new", "estimates.json")
                if os.path.exists(est):
                    with open(est) as f:
                        cases.setdefault(param, {})[function] = json.load(f)["median"]["point_estimate"]
        def order(p):
            import re
            scale = {"": 1, "KiB": 1 << 10, "MiB": 1 << 20}
            nums = [int(n) * scale[u] for n, u in re.findall(r"(\d+)\s*(KiB|MiB|)", p)]
            return (nums, p)
        for param in sorted(cases, key=order):
            fns = cases[param]
            meshka = {k: v for k, v in fns.items() if k.startswith("meshka")}
            base_name = next((b for b in BASELINES if b in fns), None)
            base = fns.get(base_name) if base_name else None
            for name, ns in meshka.items():
                others = ", ".join(f"{k}: {fmt_ns(v)}" for k, v in sorted(fns.items())
                                   if not k.startswith("meshka") and k != base_name)
                rows.append((group, param, name, ns, base, others))
    lines = ["| group | case | meshka | time | kafka-protocol baseline | meshka ÷ baseline | other baselines |",
             "|---|---|---|---:|---:|---:|---|"]
    for group, param, name, ns, base, others in rows:
        ratio = f"{ns / base:.2f}" if base else "–"
        lines.append(f"| {group} | {param} | {name} | {fmt_ns(ns)} | {fmt_ns(base) if base else '–'} | {ratio} | {others} |")
    text = "\n".join(lines) + "\n"
    with open(os.path.join(out, "criterion.md"), "w") as f:
        f.write(text)
    print(text)
    return rows


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="target/bench")
    ap.add_argument("--criterion", default="target/criterion")
    args = ap.parse_args()
    crit = criterion_table(args.criterion, args.out)
    path = os.path.join(args.out, "e2e.json")
    with open(path) as f:
        doc = json.load(f)
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    summary = doc["summary"]
    labels = [s["label"].replace(", ", ",\n").replace(" only", "") for s in summary]

    def col(load, field):
        return [s[load].get(field) or 0 for s in summary]
    fig = plt.figure(figsize=(16, 13))
    grid = fig.add_gridspec(3, 2)
    axes = [[fig.add_subplot(grid[r, c]) for c in range(2)] for r in range(2)]
    x = range(len(summary))
    colors = ["#777777", "#9ecae1", "#3182bd", "#31a354", "#e6550d"][: len(summary)]

    ax = axes[0][0]
    ax.bar(x, col("saturation", "throughput_ratio"), color=colors)
    ax.axhline(1.0, color="black", lw=0.8)
    ax.set_title("Saturation throughput × tcp_proxy (16 KB batches)")
    ax.set_ylim(0, max(1.2, max(col("saturation", "throughput_ratio")) * 1.1))

    ax = axes[0][1]
    ax.bar(x, col("saturation", "cpu_per_mb_ratio"), color=colors)
    ax.axhline(1.0, color="black", lw=0.8)
    ax.set_title("Broker Envoy CPU per MB × tcp_proxy (saturation)")

    ax = axes[1][0]
    w = 0.4
    ax.bar([i - w / 2 for i in x], col("rate", "p50_ms"), w, label="p50", color="#3182bd")
    ax.bar([i + w / 2 for i in x], col("rate", "p99_ms"), w, label="p99", color="#e6550d")
    ax.set_title(f"Produce latency at {doc['meta']['rate_records_per_s']} records/s, linger.ms=0 (ms)")
    ax.set_ylim(0, max(col("rate", "p99_ms") + [1]) * 1.25)
    ax.legend(loc="upper center", ncol=2)

    ax = axes[1][1]
    ax.bar(x, col("rate", "envoy_cpu_us_per_record"), color=colors)
    ax.set_title("Broker Envoy CPU µs per record (1 record per request)")

    for row in axes:
        for ax in row:
            ax.set_xticks(list(x))
            ax.set_xticklabels(labels, fontsize=8)
    crit = [r for r in crit if r[4]]
    if crit:
        ax = fig.add_subplot(grid[2, :])
        ratios = [ns / base for _, _, _, ns, base, _ in crit]
        ax.bar(range(len(crit)), ratios, color=["#31a354" if r < 1 else "#e6550d" for r in ratios])
        ax.axhline(1.0, color="black", lw=0.8)
        ax.set_yscale("log")
        ax.set_xticks(range(len(crit)))
        short = {"meshka Enforcer, streamed (first 128 bytes)": "streamed", "meshka Enforcer, streamed": "streamed"}
        ax.set_xticklabels([f"{g}: {p}" + (f" ({short[n]})" if n in short else "") for g, p, n, *_ in crit],
                           fontsize=6, rotation=60, ha="right")
        ax.set_title("criterion: meshka ÷ full kafka-protocol decode of the same bytes (log scale; < 1 is cheaper)")
    m = doc["meta"]
    fig.suptitle(f"meshka filter vs plain Envoy — {m['rounds']} round(s) × {m['seconds_per_load']} s per load, "
                 f"{m['record_bytes']} B records, medians; {m['cpus']} CPUs, shared machine")
    fig.tight_layout()
    png = os.path.join(args.out, "bench.png")
    fig.savefig(png, dpi=100)
    print(f"wrote {png}")


if __name__ == "__main__":
    sys.exit(main())
