#!/usr/bin/env python3
"""pool-curve.py — the report of bench-pool-curve.sh: from its CSVs, the plot (PNG, matplotlib)
and the "pool-cost" section of docs/explanation/performance.md (the text between the lines
`<!-- pool-cost:begin … -->` and `<!-- pool-cost:end -->`, rewritten whole): when and where it
was measured, the command, the table, the plot, the start-concurrency comparison, and advice for
`pool.size` computed from the numbers.

Usage: pool-curve.py --csv F --start-csv F --png F [--doc PAGE] --command CMD --cores N
         --load "A / B" --apiserver VERSION --k8senv-version COMMIT --elapsed SECONDS
"""
import argparse
import csv
import datetime
import os
import re
import sys

STORAGES = ["embedded", "etcd", "kine"]
COLORS = {"embedded": "tab:blue", "etcd": "tab:orange", "kine": "tab:green"}


def read(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def fit(xs, ys):
    """Least-squares line y = a + b·x (b = 0 for one point)."""
    n = len(xs)
    if n < 2:
        return (ys[0] if ys else 0.0), 0.0
    mx, my = sum(xs) / n, sum(ys) / n
    sxx = sum((x - mx) ** 2 for x in xs)
    b = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sxx if sxx else 0.0
    return my - b * mx, b


def by_storage(rows):
    out = {}
    for row in rows:
        out.setdefault(row["storage"], []).append(row)
    for rs in out.values():
        rs.sort(key=lambda r: int(r["size"]))
    return {s: out[s] for s in STORAGES if s in out}


def plot(curve, png, title):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax_t, ax_m) = plt.subplots(1, 2, figsize=(11, 4.2), dpi=100)
    for storage, rows in curve.items():
        n = [int(r["size"]) for r in rows]
        c = COLORS.get(storage)
        ax_t.plot(n, [float(r["warm_s"]) for r in rows], "o-", color=c, label=f"{storage}, from the cache")
        ax_t.plot(n, [float(r["cold_s"]) for r in rows], "s--", color=c, label=f"{storage}, empty cache")
        ax_m.plot(n, [float(r["total_rss_mib"]) for r in rows], "o-", color=c, label=storage)
    sizes = sorted({int(r["size"]) for rows in curve.values() for r in rows})
    for ax in (ax_t, ax_m):
        ax.set_xlabel("pool.size (instances)")
        ax.set_xticks(sizes)
        ax.grid(True, alpha=0.3)
        ax.set_ylim(bottom=0)
    ax_t.set_ylabel("seconds")
    ax_t.set_title("k8senv up --detach to all ready")
    ax_m.set_ylabel("MiB")
    ax_m.set_title("resident memory at idle, whole run")
    ax_t.legend(fontsize=8)
    ax_m.legend(fontsize=8)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(png)
    plt.close(fig)


def fmt(x, digits=1):
    return f"{float(x):.{digits}f}"


def advice(curve, start, cores):
    lines = []
    for storage, rows in curve.items():
        n = [int(r["size"]) for r in rows]
        a_m, b_m = fit(n, [float(r["total_rss_mib"]) for r in rows])
        a_t, b_t = fit(n, [float(r["warm_s"]) for r in rows])
        lines.append(f"- **{storage}**: memory ≈ {a_m:.0f} + {b_m:.0f}·N MiB; from the cache, all ready in "
                     f"≈ {a_t:.1f} + {b_t:.1f}·N s (least-squares lines through the rows above).")
    if not lines:
        return ""
    # Per-instance costs compared across storages, when there are several.
    per = {s: fit([int(r["size"]) for r in rows], [float(r["total_rss_mib"]) for r in rows])[1] for s, rows in curve.items()}
    text = "From these numbers, on this machine:\n\n" + "\n".join(lines) + "\n"
    if len(per) > 1:
        cheapest = min(per, key=per.get)
        dearest = max(per, key=per.get)
        if per[dearest] > 0:
            text += (f"\nAn instance costs least memory on {cheapest} ({per[cheapest]:.0f} MiB each) and most on "
                     f"{dearest} ({per[dearest]:.0f} MiB each).\n")
    # What a size beyond the cores costs: the warm-start ratio at the largest size over size 1.
    worst = []
    for storage, rows in curve.items():
        big = rows[-1]
        worst.append(f"{storage} {fmt(big['warm_s'])} s at {big['size']} vs {fmt(rows[0]['warm_s'])} s at {rows[0]['size']}")
    text += ("\nSo for `pool.size`: size the pool to the number of tests that hold an instance at the same time "
             "(the test runner's parallelism: `go test -p`, `pytest -n`, Swift Testing's workers), not more. "
             f"On {cores} cores each more instance adds to the time `up` takes "
             f"({'; '.join(worst)}), and each idle instance keeps its memory for the whole run. "
             "A pool smaller than the parallelism is not slower to start, only to lend: the tests beyond it wait "
             "for a release (milliseconds on embedded, by reset).\n")
    if start:
        faster = [r for r in start if float(r["bounded_s"]) < 0.95 * float(r["all_s"])]
        if faster:
            text += ("\nStarting at most " + start[0]["bound"] + " at a time was faster than all at once for " +
                     ", ".join(f"{r['storage']} N={r['size']} ({float(r['bounded_s']) / float(r['all_s']):.2f}x)" for r in faster) +
                     ": see the start concurrency below.\n")
        else:
            ratios = ", ".join(f"{r['storage']} N={r['size']} {float(r['bounded_s']) / float(r['all_s']):.2f}x" for r in start)
            text += ("\nStarting at most " + start[0]["bound"] + " at a time was not faster than all at once "
                     f"(bounded vs all: {ratios}), so a pool starts its instances all at once: see the start "
                     "concurrency below.\n")
    return text


def section(args, curve, start):
    date = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    loaded = ""
    try:
        first = float(args.load.split()[0])
        if first > 0.5 * args.cores:
            loaded = (f" **The machine was loaded** (load average {args.load.split('/')[0].strip()} at the start, "
                      f"on {args.cores} cores): the times are high and noisy; re-run on a quiet machine for the real curve.")
    except (ValueError, IndexError):
        pass
    out = [
        "<!-- pool-cost:begin (written by scripts/bench/bench-pool-curve.sh: re-run it, do not edit by hand) -->",
        f"Measured {date} on {args.cores} cores, load average {args.load} (start / end), "
        f"{args.apiserver or 'kube-apiserver'}, k8senv {args.k8senv_version[:12] or '(unknown commit)'}, "
        f"in {int(args.elapsed) // 60} min, by:",
        "",
        "```",
        args.command,
        "```",
        "",
    ]
    if loaded:
        out += [loaded.strip(), ""]
    if args.note:
        out += [args.note, ""]
    out += [
        "Each row is the example's environment `base` (examples/k8senv.yaml: its CRDs and seed sets) started by "
        "`k8senv up --detach --pool-size N`: **cold** from an empty snapshot cache (the first instance builds the "
        "snapshot, the others start from it), **warm** from the cache; medians of the runs. Memory is VmRSS from "
        "`/proc` after the warm start settled: per kube-apiserver, per store process (etcd, k8senv-kine; "
        "the embedded stores live in k8senv's own process), k8senv's, and the whole run's; the store's "
        "size on disk (blocks allocated: etcd preallocates its write-ahead log) is per instance.",
        "",
        "| storage | N | cold (s) | warm (s) | warm vs N=1 | kube-apiserver (MiB each) | store process (MiB each) "
        "| k8senv (MiB) | total (MiB) | store on disk (MiB each) | runs |",
        "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for storage, rows in curve.items():
        w1 = float(rows[0]["warm_s"])
        for r in rows:
            store = "in k8senv" if storage == "embedded" else fmt(r["store_rss_mib"])
            out.append(f"| {storage} | {r['size']} | {fmt(r['cold_s'], 2)} | {fmt(r['warm_s'], 2)} | "
                       f"{float(r['warm_s']) / w1:.2f}x | {fmt(r['apiserver_rss_mib'])} | {store} | {fmt(r['k8senv_rss_mib'])} | "
                       f"{fmt(r['total_rss_mib'])} | {fmt(r['store_disk_mib'], 2)} | {r['runs']} |")
    png = os.path.relpath(args.png, os.path.dirname(os.path.abspath(args.doc)))
    out += ["", f"![Time to all ready and memory against pool.size, per storage]({png})", ""]
    out += [f"The numbers: [{os.path.basename(args.csv)}]({os.path.relpath(args.csv, os.path.dirname(os.path.abspath(args.doc)))}), "
            f"[{os.path.basename(args.start_csv)}]({os.path.relpath(args.start_csv, os.path.dirname(os.path.abspath(args.doc)))}).", ""]
    out.append(advice(curve, start, args.cores).rstrip("\n"))
    out += ["", "### Start concurrency", ""]
    if start:
        out += [f"N separate `up --detach -e base --pool-size 1` from the warm cache, all at once against at most "
                f"{start[0]['bound']} starting at a time (alternated), to the last one ready:", "",
                "| storage | N | all at once (s) | at most K (s) | K | bounded vs all | the pool, warm (s) | runs |",
                "|---|--:|--:|--:|--:|--:|--:|--:|"]
        for r in start:
            pool = next((c["warm_s"] for c in curve.get(r["storage"], []) if c["size"] == r["size"]), "")
            out.append(f"| {r['storage']} | {r['size']} | {fmt(r['all_s'], 2)} | {fmt(r['bounded_s'], 2)} | {r['bound']} | "
                       f"{float(r['bounded_s']) / float(r['all_s']):.2f}x | {fmt(pool, 2) if pool else '–'} | {r['runs']} |")
        out += ["", "The last column is the warm row of the table above: one `up --pool-size N`, whose pool starts "
                "all N together from the cache (on a miss, the first alone: it builds the snapshot). A pool has no "
                "start bound: add one (and a knob) only if a run shows `bounded vs all` below 1."]
    else:
        out.append("Not measured in this run: no size above the bound (`--bounded`, default the number of cores).")
    out.append("<!-- pool-cost:end -->")
    return "\n".join(out) + "\n"


def rewrite(doc, text):
    page = open(doc).read()
    pattern = re.compile(r"^<!-- pool-cost:begin.*?^<!-- pool-cost:end -->\n", re.S | re.M)
    if not pattern.search(page):
        sys.exit(f"pool-curve: {doc}: no section between '<!-- pool-cost:begin' and '<!-- pool-cost:end -->' lines")
    page = pattern.sub(lambda _: text, page, count=1)
    tmp = f"{doc}.tmp-{os.getpid()}"
    with open(tmp, "x") as f:
        f.write(page)
    os.replace(tmp, doc)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--csv", required=True)
    p.add_argument("--start-csv", required=True)
    p.add_argument("--png", required=True)
    p.add_argument("--doc")
    p.add_argument("--command", required=True)
    p.add_argument("--cores", type=int, required=True)
    p.add_argument("--load", default="")
    p.add_argument("--apiserver", default="")
    p.add_argument("--k8senv-version", default="")
    p.add_argument("--elapsed", type=float, default=0)
    p.add_argument("--note", default="", help="a paragraph under the command (what was special about this run)")
    args = p.parse_args()
    curve = by_storage(read(args.csv))
    if not curve:
        sys.exit(f"pool-curve: {args.csv} has no rows")
    start = read(args.start_csv)
    plot(curve, args.png, f"bench-pool-curve, {args.cores} cores, load {args.load}, {args.apiserver}")
    if args.doc:
        rewrite(args.doc, section(args, curve, start))


if __name__ == "__main__":
    main()
