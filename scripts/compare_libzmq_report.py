#!/usr/bin/python3
"""Report for scripts/compare-libzmq.sh (not meant to be run by hand).

Reads the manifest the shell script wrote (one line per zmx-perf invocation or zmx
support probe, with its exit status and --json file), takes the medians of the runs of
each library, and prints a markdown section: machine, exact command, latency and
throughput tables with zmx/libzmq ratios, scenarios zmx does not support yet as n/a,
failures. Draws the chart with gnuplot and, with --write, replaces the marked section of
bench/RESULTS.md. Standard library only.

Exit status: 0, or 1 when a supported cell had a failed run or the chart could not be drawn
into the repository (--write).
"""
import argparse
import json
import math
import os
import shutil
import statistics
import subprocess
import sys

BEGIN = "<!-- compare-libzmq:begin -->"
END = "<!-- compare-libzmq:end -->"
LIBS = ("zmx", "libzmq")

SCENARIO_TITLE = {
    "lat": "lat: PAIR ping-pong, round trip",
    "thr": "thr: PUSH -> PULL stream, one way",
    "fanout": "fanout: PUB -> {peers} SUBs, deliveries summed over the SUBs",
    "reqrep": "reqrep: {peers} REQ -> REP, round trip",
}
PINGPONG = ("lat", "reqrep")


def scenario_title(sc, cells):
    peers = next((r.get("peers") for (c, _, _), cell in cells.items() if c == sc
                  for lib in LIBS for r in cell.ok[lib]), None)
    default = {"fanout": 2, "reqrep": 1}.get(sc, 1)
    return SCENARIO_TITLE.get(sc, sc).format(peers=peers or default)


def parse_args():
    p = argparse.ArgumentParser()
    for name in ("manifest", "out-dir", "root", "command", "started", "commit", "cpu", "cores",
                 "kernel", "load-start", "load-end", "nproc", "elapsed", "runs", "sizes",
                 "lat-count", "lat-warmup", "chart"):
        p.add_argument("--" + name, required=True)
    p.add_argument("--stream-count", action="append", default=[])
    p.add_argument("--write")
    return p.parse_args()


def tail(path, n=1):
    try:
        with open(path, errors="replace") as f:
            lines = [line.rstrip() for line in f if line.strip()]
        return " / ".join(lines[-n:]) if lines else "(no output)"
    except OSError:
        return "(no log)"


def median(values):
    vals = [v for v in values if isinstance(v, (int, float)) and math.isfinite(v)]
    return statistics.median(vals) if vals else None


def metric(run, key):
    if key in ("p50_us", "p99_us", "p999_us"):
        lat = run.get("latency") or {}
        return lat.get(key)
    if key == "cpu":
        return (run.get("cpu_ns_per_msg") or {}).get("process")
    if key == "delivered_pct":
        expected = (run.get("sent") or 0) * (run.get("peers") or 1)
        return 100.0 * (run.get("received") or 0) / expected if expected else None
    return run.get(key)


class Cell:
    """One (scenario, transport, size): the ok runs and what went wrong, per library."""

    def __init__(self):
        self.ok = {lib: [] for lib in LIBS}
        self.failed = {lib: [] for lib in LIBS}      # error texts
        self.unsupported = {lib: None for lib in LIBS}
        self.crash = None                             # zmx-perf ended without JSON

    def value(self, lib, key):
        return median([metric(r, key) for r in self.ok[lib]])

    def state(self, lib):
        if self.ok[lib]:
            return "ok"
        if self.unsupported[lib]:
            return "n/a"
        return "failed"


def load(manifest):
    cells, unsupported_rows, libzmq_info = {}, {}, {}
    with open(manifest) as f:
        rows = [line.rstrip("\n").split("\t") for line in f if line.strip()]
    for scenario, transport, size, kind, rc, jpath, log in rows:
        rc = int(rc)
        data = None
        try:
            with open(jpath) as jf:
                data = json.load(jf)
        except (OSError, ValueError):
            pass
        if kind == "probe":
            reason = None
            if data and data.get("runs"):
                reason = data["runs"][0].get("error")
            unsupported_rows[(scenario, transport)] = reason or tail(log)
            continue
        cell = cells.setdefault((scenario, transport, int(size)), Cell())
        if data is None:
            cell.crash = f"zmx-perf exit {rc}: {tail(log, 2)}"
            continue
        for run in data.get("runs", []):
            lib = run.get("lib")
            if lib not in LIBS:
                continue
            if lib == "libzmq":
                libzmq_info.setdefault("version", run.get("lib_version"))
            status = run.get("status")
            if status == "ok":
                cell.ok[lib].append(run)
            elif status == "unsupported":
                cell.unsupported[lib] = run.get("error") or "not supported"
            else:
                cell.failed[lib].append(run.get("error") or status or "failed")
        if "path" not in libzmq_info:
            try:
                with open(log, errors="replace") as lf:
                    for line in lf:
                        if line.startswith("zmx-perf") and ": libzmq" in line and " from " in line:
                            libzmq_info["path"] = line.rsplit(" from ", 1)[1].strip()
                            break
            except OSError:
                pass
    return cells, unsupported_rows, libzmq_info


# ---- formatting ----

def fmt_us(v):
    if v is None:
        return None
    return f"{v:,.3f}" if v < 10 else f"{v:,.2f}" if v < 1000 else f"{v:,.0f}"


def fmt_int(v):
    return None if v is None else f"{v:,.0f}"


def fmt_mb(v):
    return None if v is None else f"{v:,.2f}" if v < 10 else f"{v:,.1f}"


def fmt_cpu(v):
    return None if v is None else f"{v:,.0f}" if v >= 100 else f"{v:,.1f}"


def fmt_pct(v):
    return None if v is None else f"{v:.1f}" if v >= 1 else f"{v:.2g}"


def size_label(n):
    for unit, div in (("M", 1 << 20), ("K", 1 << 10)):
        if n >= div and n % div == 0:
            return f"{n // div}{unit}"
    return str(n)


def cell_text(cell, lib, key, fmt):
    if cell is None:
        return "-"
    st = cell.state(lib)
    if st != "ok":
        return st
    v = fmt(cell.value(lib, key))
    return "-" if v is None else v


def ratio_text(cell, key):
    if cell is None:
        return "-"
    z, l = cell.value("zmx", key), cell.value("libzmq", key)
    if z is None or l is None or l == 0:
        return "-"
    r = z / l
    return f"{r:.2f}" if r >= 0.1 else f"{r:.2g}"


def table(rows_spec, head, lines):
    """rows_spec: list of (header, align)."""
    lines.append("| " + " | ".join(h for h, _ in head) + " |")
    lines.append("|" + "|".join("---:" if a == "r" else "---" for _, a in head) + "|")
    for row in rows_spec:
        lines.append("| " + " | ".join(row) + " |")


def scenario_table(scenario, transports, sizes, cells, lines):
    pingpong = scenario in PINGPONG
    if pingpong:
        groups = [("p50 us", "p50_us", fmt_us), ("p99 us", "p99_us", fmt_us),
                  ("p99.9 us", "p999_us", fmt_us), ("CPU ns/rt", "cpu", fmt_cpu)]
    else:
        groups = [("msgs/s", "msgs_per_s", fmt_int), ("MB/s", "mb_per_s", fmt_mb),
                  ("CPU ns/msg", "cpu", fmt_cpu)]
    head = [("transport", "l"), ("size B", "r")]
    for label, key, _ in groups:
        head += [(f"{label} zmx", "r"), (f"{label} libzmq", "r")]
        if key != "mb_per_s":  # same ratio as msgs/s
            head.append(("zmx/libzmq", "r"))
    if scenario == "fanout":
        head += [("delivered % zmx", "r"), ("delivered % libzmq", "r")]
    rows = []
    for t in transports:
        for s in sizes:
            cell = cells.get((scenario, t, s))
            row = [t, f"{s:,}"]
            for _, key, fmt in groups:
                row += [cell_text(cell, "zmx", key, fmt), cell_text(cell, "libzmq", key, fmt)]
                if key != "mb_per_s":
                    row.append(ratio_text(cell, key))
            if scenario == "fanout":
                row += [cell_text(cell, lib, "delivered_pct", fmt_pct) for lib in LIBS]
            rows.append(row)
    table(rows, head, lines)


def main():
    a = parse_args()
    runs = int(a.runs)
    sizes = [int(s) for s in a.sizes.split(",")]
    cells, unsupported_rows, libzmq_info = load(a.manifest)
    scenarios = []
    transports = []
    with open(a.manifest) as f:
        for line in f:
            sc, tr = line.split("\t")[:2]
            if sc not in scenarios:
                scenarios.append(sc)
            if tr not in transports:
                transports.append(tr)
    stream_counts = dict(item.split("=") for item in a.stream_count)

    lines = []
    libzmq_name = libzmq_info.get("version") or "libzmq"
    lines.append(f"## zmx vs {libzmq_name}: {', '.join(transports)} x "
                 f"{', '.join(size_label(s) for s in sizes)} B")
    lines.append("")
    lines.append(f"- started {a.started}, zmx commit {a.commit}; {libzmq_name} from "
                 f"{libzmq_info.get('path', 'the system')} in the same process (dlopen)")
    lines.append(f"- machine: {a.cpu}, {a.cores}; {a.kernel}")
    lines.append(f"- load average (1, 5, 15 min): {a.load_start} at start, {a.load_end} at the end")
    load1 = float(a.load_start.split()[0])
    if load1 > 0.5 * int(a.nproc):
        lines.append(f"- **the machine was busy** (load {load1:g} on {a.nproc} CPUs): "
                     "treat these numbers as indicative")
    lines.append(f"- command: `{a.command}` ({int(a.elapsed) // 60} min {int(a.elapsed) % 60} s)")
    counts = ", ".join(f"{int(stream_counts[str(s)]):,} at {size_label(s)} B" for s in sizes
                       if str(s) in stream_counts)
    lines.append(f"- each cell: `zmx-perf <scenario> --transport T --size S --runs {runs} --vs-libzmq "
                 f"--json F`, zmx and libzmq alternating (who goes first swaps each run); "
                 f"lat/reqrep `--count {int(a.lat_count):,} --warmup {int(a.lat_warmup):,}`; "
                 f"thr/fanout `--count` {counts}")
    if int(a.lat_count) < 100000:
        k = max(1, round(int(a.lat_count) / 1000))
        lines.append(f"- p99.9 of {int(a.lat_count):,} round trips rests on the {k} slowest: "
                     "the shorter the run, the noisier the tail")
    lines.append(f"- every number is the median of {runs} run{'s' if runs != 1 else ''}; "
                 "zmx/libzmq below 1 is better for zmx in latency and CPU, above 1 in throughput; "
                 "CPU is the whole process (I/O threads included) per message or round trip")
    lines.append("")

    failures = []
    na_rows = []
    for sc in scenarios:
        supported = [t for t in transports if (sc, t) not in unsupported_rows]
        for t in transports:
            if (sc, t) in unsupported_rows:
                na_rows.append((sc, t, unsupported_rows[(sc, t)]))
        if not supported:
            continue
        lines.append(f"### {scenario_title(sc, cells)}")
        lines.append("")
        scenario_table(sc, supported, sizes, cells, lines)
        lines.append("")
        if sc == "fanout":
            lines.append("An unpaced PUB drops what its SUBs cannot take at the HWM (as it should): "
                         "msgs/s is what the SUBs received, over the time they were receiving; "
                         "read it with the share of messages delivered.")
            lines.append("")
        for t in supported:
            for s in sizes:
                cell = cells.get((sc, t, s))
                if cell is None:
                    continue
                if cell.crash:
                    failures.append(f"{sc} {t} {s} B: {cell.crash}")
                for lib in LIBS:
                    for err in cell.failed[lib]:
                        failures.append(f"{sc} {t} {s} B {lib}: {err}")
                    row = (sc, t, f"{lib}: {cell.unsupported[lib]}")
                    if cell.unsupported[lib] and row not in na_rows:
                        na_rows.append(row)

    if na_rows:
        lines.append("### Not run: scenarios zmx does not support yet (n/a)")
        lines.append("")
        merged = {}
        for sc, t, why in na_rows:
            merged.setdefault((sc, why), []).append(t)
        rows = [[scenario_title(sc, cells), ", ".join(ts), "n/a", "not run", why]
                for (sc, why), ts in merged.items()]
        table(rows, [("scenario", "l"), ("transports", "l"), ("zmx", "l"), ("libzmq", "l"),
                     ("why", "l")], lines)
        lines.append("")
        lines.append("These rows fill in by themselves once zmx-perf runs the scenario on zmx "
                     "(it exits 3 until then).")
        lines.append("")

    if failures:
        lines.append("### Failed runs")
        lines.append("")
        for f in failures:
            lines.append(f"- {f}")
        lines.append("")

    chart_ok, chart_note = draw_chart(a, cells, transports, sizes, runs, libzmq_name)
    def chart_lines(link):
        if not chart_ok:
            return [f"Chart not drawn: {chart_note}.", ""]
        return [f"![zmx vs libzmq: latency percentiles and throughput by message size, "
                f"per transport]({link})", ""]

    sys.stdout.write("\n".join(lines + chart_lines(os.path.relpath(a.chart, a.root)) +
                               [f"Raw zmx-perf JSON and reports: {os.path.relpath(a.out_dir, a.root)}/"]) + "\n")
    sys.stdout.flush()

    status = 1 if failures else 0
    if a.write:
        # RESULTS.md and the chart both live in bench/: the link is relative to it.
        write_results(a.write, lines + chart_lines(os.path.relpath(a.chart, os.path.dirname(a.write))))
        print(f"compare-libzmq: wrote the section into {os.path.relpath(a.write, a.root)}"
              + (f" and the chart to {os.path.relpath(a.chart, a.root)}" if chart_ok else ""),
              file=sys.stderr)
        if not chart_ok:
            status = 1
    return status


def write_results(path, body):
    block = "\n".join([BEGIN, "<!-- written by scripts/compare-libzmq.sh --write: "
                       "edits between these markers are replaced -->", ""] + body + [END]) + "\n"
    try:
        with open(path) as f:
            text = f.read()
    except FileNotFoundError:
        text = "# Benchmark results\n"
    b, e = text.find(BEGIN), text.find(END)
    if b >= 0 and e > b:
        e += len(END)
        if text[e:e + 1] == "\n":
            e += 1
        text = text[:b] + block + text[e:]
    elif b >= 0 or e >= 0:
        sys.exit(f"compare-libzmq: {path} has only one of the markers {BEGIN} / {END}; "
                 "fix it by hand")
    else:
        text = text.rstrip("\n") + "\n\n" + block
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, path)


# ---- chart (gnuplot) ----

ZMX_COLOR = "#1f77b4"
LIBZMQ_COLOR = "#ff7f0e"


def draw_chart(a, cells, transports, sizes, runs, libzmq_name):
    gnuplot = shutil.which("gnuplot")
    if gnuplot is None:
        return False, "gnuplot is not installed (scripts/deps.sh installs gnuplot-nox)"
    data_dir = a.out_dir
    panels = []  # (title, data file, [(column, title, color, dash, point)], y tic format)
    for t in transports:
        path = os.path.join(data_dir, f"chart-{t}.dat")
        cols = [("lat", lib, key) for lib in LIBS for key in ("p50_us", "p99_us", "p999_us")]
        cols += [("thr", lib, key) for lib in LIBS for key in ("msgs_per_s", "mb_per_s")]
        have = {c: False for c in cols}
        with open(path, "w") as f:
            f.write("# size " + " ".join(f"{sc}:{lib}:{key}" for sc, lib, key in cols) + "\n")
            for s in sizes:
                vals = []
                for c in cols:
                    sc, lib, key = c
                    cell = cells.get((sc, t, s))
                    v = cell.value(lib, key) if cell else None
                    if v is not None and v > 0:
                        have[c] = True
                        vals.append(repr(float(v)))
                    else:
                        vals.append("NaN")
                f.write(f"{s} " + " ".join(vals) + "\n")
        col = {c: i + 2 for i, c in enumerate(cols)}
        styles = {"p50_us": ("p50", 1, 7), "p99_us": ("p99", 2, 5), "p999_us": ("p99.9", 3, 9)}
        # Legend: gnuplot fills its 2 rows column by column, so zmx lands above libzmq.
        lat_series = [(col[("lat", lib, k)], f"{lib} {styles[k][0]}",
                       ZMX_COLOR if lib == "zmx" else LIBZMQ_COLOR, styles[k][1], styles[k][2])
                      for k in ("p50_us", "p99_us", "p999_us") for lib in LIBS if have[("lat", lib, k)]]
        thr_series = [(col[("thr", lib, "msgs_per_s")], lib, ZMX_COLOR if lib == "zmx" else LIBZMQ_COLOR, 1, 7)
                      for lib in LIBS if have[("thr", lib, "msgs_per_s")]]
        mb_series = [(col[("thr", lib, "mb_per_s")], lib, ZMX_COLOR if lib == "zmx" else LIBZMQ_COLOR, 1, 7)
                     for lib in LIBS if have[("thr", lib, "mb_per_s")]]
        panels.append((f"{t}: lat round trip, us (lower is better)", path, lat_series, "%g"))
        panels.append((f"{t}: thr msgs/s (higher is better)", path, thr_series, "%.0s%c"))
        panels.append((f"{t}: thr MB/s (higher is better)", path, mb_series, "%g"))

    def q(s):
        return "'" + s.replace("'", "''") + "'"

    xtics = ", ".join(f'"{size_label(s)}" {s}' for s in sizes)
    lo, hi = min(sizes) / 1.6, max(sizes) * 1.6
    gp = [f"set terminal pngcairo size 1500,{max(1, len(transports)) * 380 + 60} font 'sans,10' noenhanced",
          f"set output {q(a.chart + '.tmp')}",
          f"set multiplot layout {len(transports)},3 title "
          f"{q(f'zmx vs {libzmq_name} by message size in bytes, median of {runs} run' + ('s' if runs != 1 else '') + f', {a.started}')}",
          "set grid", "set key outside bottom center horizontal maxcols 3 samplen 3",
          "set datafile missing 'NaN'"]
    for title, path, series, yformat in panels:
        gp.append(f"set title {q(title)}")
        if series:
            gp += ["set logscale xy", f"set xrange [{lo}:{hi}]", "set autoscale y",
                   f"set xtics ({xtics})", "set ytics auto", f"set format y '{yformat}'", "unset label 1"]
            plots = [f"{q(path)} using 1:{c} with linespoints lw 2 lc rgb '{color}' dt {dt} pt {pt} "
                     f"title {q(name)}" for c, name, color, dt, pt in series]
            gp.append("plot " + ", ".join(plots))
        else:
            gp += ["unset logscale", "set xrange [0:1]", "set yrange [0:1]", "unset xtics", "unset ytics",
                   "set label 1 'no data' at 0.5,0.5 center", "plot -1 notitle", "unset label 1",
                   "set autoscale y"]
    gp.append("unset multiplot")
    gp_path = os.path.join(data_dir, "chart.gp")
    with open(gp_path, "w") as f:
        f.write("\n".join(gp) + "\n")
    r = subprocess.run([gnuplot, gp_path], capture_output=True, text=True)
    if r.returncode != 0 or not os.path.exists(a.chart + ".tmp"):
        msg = (r.stderr.strip().splitlines() or ["no output"])[-1]
        print(f"compare-libzmq: gnuplot failed ({gp_path}): {r.stderr.strip()}", file=sys.stderr)
        return False, f"gnuplot failed ({msg})"
    os.replace(a.chart + ".tmp", a.chart)
    return True, ""


if __name__ == "__main__":
    sys.exit(main())
