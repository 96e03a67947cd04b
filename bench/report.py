#!/usr/bin/env python3
"""Turns the raw numbers bench/run.sh collects into the markdown report (tables + targets).

usage: report.py RESULTS.tsv CEILING.tsv DISCOVERY.tsv SCALES.tsv "machine description" "QUICK RUNS"
"""

import statistics
import sys
from collections import defaultdict

DATA_LABEL = {"big": "1 × 1 GiB", "mid": "200 × 5 MiB", "small": "2000 × 100 KiB"}
TOOL_LABEL = {"nc": "nc + tar", "refcopy": "refcopy", "ferry": "**ferry**", "ferry-base": "ferry (base build)"}
LINK_ORDER = ["unshaped", "1gbit", "100mbit"]


def rows(path):
    with open(path) as f:
        return [line.rstrip("\n").split("\t") for line in f if line.strip()]


def num(s, default=0.0):
    try:
        return float(s)
    except ValueError:
        return default


def main():
    results, ceil_rows, disc_rows = rows(sys.argv[1]), rows(sys.argv[2]), rows(sys.argv[3])
    scales = {link: s for link, s in rows(sys.argv[4])}
    machine = sys.argv[5]
    quick, runs = sys.argv[6].split()
    links = sorted({r[0] for r in results} | {r[0] for r in ceil_rows},
                   key=lambda l: LINK_ORDER.index(l) if l in LINK_ORDER else 99)

    ceiling = defaultdict(list)
    for link, _run, mbs in ceil_rows:
        if num(mbs) > 0:
            ceiling[link].append(num(mbs))
    ceil_med = {l: statistics.median(v) for l, v in ceiling.items()}

    # (link, ds, tool) -> list of per-run dicts
    cells = defaultdict(list)
    for link, ds, tool, run, nbytes, wall_ms, su, ss, srss, ru, rs, rrss in results:
        wall = num(wall_ms) / 1000
        cells[(link, ds, tool)].append({
            "run": run,
            "mbs": num(nbytes) / wall / 1e6,
            "bytes": int(num(nbytes)),
            "scpu": (num(su) + num(ss)) / wall * 100,
            "rcpu": (num(ru) + num(rs)) / wall * 100,
            "srss": num(srss) / 1024,
            "rrss": num(rrss) / 1024,
        })
    med = {k: statistics.median(r["mbs"] for r in v) for k, v in cells.items()}

    out = []
    p = out.append
    p(f"Machine: {machine}.")
    p("")
    note = f"{runs} runs per cell"
    if quick == "1":
        note += "; QUICK run: small sizes (64 MiB, 20 × 5 MiB, 200 × 100 KiB), numbers are indicative only"
    for link, s in scales.items():
        if s != "1":
            note += f"; at {link} every dataset is 1/{s} of its nominal size (marked ÷{s})"
    p(f"MB = 10^6 bytes. {note}. CPU % = (user+sys) / wall time of the transfer, per side "
      "(100 % = one core). RSS = peak resident set (max over runs).")
    p("")
    p("| link | data | tool | MB/s median (min–max) | × iperf3 | × refcopy | send CPU % | recv CPU % "
      "| send RSS MiB | recv RSS MiB |")
    p("|---|---|---|---|---|---|---|---|---|---|")
    for link in links:
        if link in ceil_med:
            v = ceiling[link]
            p(f"| {link} | memory | iperf3 | {ceil_med[link]:.0f} ({min(v):.0f}–{max(v):.0f}) | 1.00 | | | | | |")
        for ds in ["big", "mid", "small"]:
            for tool in ["nc", "refcopy", "ferry-base", "ferry"]:
                v = cells.get((link, ds, tool))
                if not v:
                    continue
                m = med[(link, ds, tool)]
                mbs = [r["mbs"] for r in v]
                of_ceil = f"{m / ceil_med[link]:.2f}" if link in ceil_med else ""
                ref = med.get((link, ds, "refcopy"))
                of_ref = f"{m / ref:.2f}" if ref else ""
                label = DATA_LABEL.get(ds, ds)
                if scales.get(link, "1") != "1":
                    label += f" ÷{scales[link]}"
                p(f"| {link} | {label} | {TOOL_LABEL.get(tool, tool)} | {m:.0f} ({min(mbs):.0f}–{max(mbs):.0f}) "
                  f"| {of_ceil} | {of_ref} "
                  f"| {statistics.median(r['scpu'] for r in v):.0f} | {statistics.median(r['rcpu'] for r in v):.0f} "
                  f"| {max(r['srss'] for r in v):.1f} | {max(r['rrss'] for r in v):.1f} |")

    disc = [num(r[1], -1) for r in disc_rows]
    seen = [d for d in disc if d >= 0]
    p("")
    if seen:
        p(f"Discovery latency (receiver process start on one host → listed by `ferry peers` on another), "
          f"{len(seen)} of {len(disc)} samples seen: median {statistics.median(seen):.0f} ms, "
          f"min {min(seen):.0f} ms, max {max(seen):.0f} ms.")
    elif disc:
        p(f"Discovery latency: none of {len(disc)} samples was seen within 5 s.")

    # ---- targets
    p("")
    p("| target | measured | met? |")
    p("|---|---|---|")

    def verdict(ok):
        return "met" if ok else "**not met**"

    def run_ratios(cell_a, cell_b):
        """Tools and data sets take turns, so run n of two cells met about the same moment of the
        machine: the ratios of such pairs."""
        rb = {r["run"]: r["mbs"] for r in cells.get(cell_b, [])}
        return [r["mbs"] / rb[r["run"]] for r in cells.get(cell_a, []) if r["run"] in rb]

    def paired(link, ds, a, b):
        """Tool a against tool b, run by run."""
        ratios = run_ratios((link, ds, a), (link, ds, b))
        if not ratios:
            return ""
        ahead = sum(x >= 1 for x in ratios)
        return (f"; run by run: median {statistics.median(ratios):.2f}×, "
                f"{a} ahead in {ahead} of {len(ratios)}")

    def paired_ds(link, ds, need):
        """Ferry's run n of ds against its run n of the big file."""
        ratios = run_ratios((link, ds, "ferry"), (link, "big", "ferry"))
        if not ratios:
            return ""
        held = sum(x >= need for x in ratios)
        return (f"; run by run: median {statistics.median(ratios):.2f}×, "
                f"{min(ratios):.2f}–{max(ratios):.2f}, ≥ {need} in {held} of {len(ratios)}")

    f_big = med.get(("unshaped", "big", "ferry"))
    r_big = med.get(("unshaped", "big", "refcopy"))
    if f_big and r_big:
        p(f"| 1 GiB unshaped ≥ raw copy (refcopy, fsync, no hash) | ferry {f_big:.0f} vs refcopy {r_big:.0f} MB/s "
          f"({f_big / r_big:.2f}×{paired('unshaped', 'big', 'ferry', 'refcopy')}) | {verdict(f_big >= r_big)} |")
    for link in links:
        fb = med.get((link, "big", "ferry"))
        if not fb:
            continue
        for ds, need in (("mid", 0.9), ("small", 0.7)):
            fv = med.get((link, ds, "ferry"))
            if fv:
                p(f"| {DATA_LABEL[ds]} ≥ {need} × ferry's 1 GiB rate ({link}) | {fv:.0f} vs {fb:.0f} MB/s "
                  f"({fv / fb:.2f}×{paired_ds(link, ds, need)}) | {verdict(fv >= need * fb)} |")
    fb_base = med.get(("unshaped", "big", "ferry-base"))
    for ds in ["big", "mid", "small"]:
        fv, bv = med.get(("unshaped", ds, "ferry")), med.get(("unshaped", ds, "ferry-base"))
        if fv and bv and fb_base:
            p(f"| (this build vs base build, unshaped {DATA_LABEL[ds]}) | {fv:.0f} vs {bv:.0f} MB/s "
              f"({fv / bv:.2f}×{paired('unshaped', ds, 'ferry', 'ferry-base')}) | |")
    for link in links:
        if link == "unshaped" or link not in ceil_med:
            continue
        for ds in ["big", "mid", "small"]:
            fv = med.get((link, ds, "ferry"))
            if fv:
                r = fv / ceil_med[link]
                p(f"| shaped {link}, {DATA_LABEL[ds]}: ≥ 97 % of iperf3 | {fv:.1f} vs {ceil_med[link]:.1f} MB/s "
                  f"({r * 100:.1f} %) | {verdict(r >= 0.97)} |")
    ferry_cells = [r for (l, d, t), v in cells.items() if t == "ferry" for r in v]
    if ferry_cells:
        srss = max(r["srss"] for r in ferry_cells)
        rrss = max(r["rrss"] for r in ferry_cells)
        p(f"| peak RSS ≤ 16 MiB each side | send {srss:.1f} MiB, receive {rrss:.1f} MiB | "
          f"{verdict(srss <= 16 and rrss <= 16)} |")
    if seen:
        m = statistics.median(seen)
        p(f"| discovery ≤ 20 ms median | {m:.0f} ms | {verdict(m <= 20 and len(seen) == len(disc))} |")
    print("\n".join(out))


if __name__ == "__main__":
    main()
