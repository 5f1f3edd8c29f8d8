#!/usr/bin/env python3
"""Reproduce Figure 2.1 of Thain & Livny's Parrot paper on this machine.

Builds workload.c and floor_tracer.c, runs the workload natively and under each
interposition configuration (alternating configurations within every round),
and prints a Markdown table of median ratios to native. See README.md.
"""

import argparse
import datetime
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
WORK = HERE / "work"          # gitignored: binaries and the scratch directory
RESULTS = HERE / "results"
BIG_FILE_BYTES = 100 * 1024 * 1024
QUICK_SCALE = 0.05
# proot stops twice on every call (~30-130 µs each here), so the full counts
# take minutes per run; its per-operation means need far fewer iterations.
PROOT_SCALE = 0.2

# (workload name, row label, unit); order is the table's row order.
METRICS = [
    ("getpid", "getpid", "µs"),
    ("stat", "stat", "µs"),
    ("open_close", "open+close", "µs"),
    ("read_8k", "read 8 KiB", "µs"),
    ("write_8k", "write 8 KiB", "µs"),
    ("bandwidth_1m", "bandwidth, 1 MiB reads", "MB/s"),
    ("fork_exec_wait", "fork+exec+wait", "µs"),
]
METRIC_NAMES = {m for m, _, _ in METRICS}


def log(*parts):
    print(*parts, file=sys.stderr, flush=True)


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--parrot", type=Path, default=HERE.parent / ".build" / "release" / "parrot",
                   help="the agent binary (default: ../.build/release/parrot from this script)")
    p.add_argument("--rounds", type=int, default=5, help="rounds, at least 3 (default 5)")
    p.add_argument("--quick", action="store_true",
                   help=f"smoke test: iteration counts x{QUICK_SCALE}; writes no results file unless --output")
    p.add_argument("--timeout", type=float, default=900, help="seconds allowed per workload run (default 900)")
    p.add_argument("--output", type=Path, help="Markdown file (default results/figure-2.1.md; none with --quick)")
    p.add_argument("--pin", type=int, metavar="CPU",
                   help="run everything on this CPU (default: the last CPU this process may use)")
    p.add_argument("--no-pin", action="store_true",
                   help="let the scheduler place tracer and tracee (cross-CPU wake-ups, noisier)")
    p.add_argument("--keep-data", action="store_true", help="keep the 100 MiB scratch file afterwards")
    args = p.parse_args()
    if args.rounds < 3:
        p.error("--rounds must be at least 3 (the table shows medians)")
    if args.output is None and not args.quick:
        args.output = RESULTS / "figure-2.1.md"
    args.parrot = Path(os.path.abspath(args.parrot))  # keep symlink names for the footnote
    return args


def compile_programs(bindir):
    bindir.mkdir(parents=True, exist_ok=True)
    cc = os.environ.get("CC", "cc")
    built = {}
    for name in ("workload", "floor_tracer"):
        out = bindir / name
        cmd = [cc, "-O2", "-Wall", "-o", str(out), str(HERE / f"{name}.c")]
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode != 0:
            sys.exit(f"run.py: compiling {name}.c failed:\n{r.stderr}")
        built[name] = out
    return built


def make_big_file(path):
    # Written once per invocation and read by every configuration, so all of
    # them read from the page cache; random bytes so nothing can be elided.
    if path.exists() and path.stat().st_size == BIG_FILE_BYTES:
        return
    block = os.urandom(1 << 20)
    with open(path, "wb") as f:
        for _ in range(BIG_FILE_BYTES // len(block)):
            f.write(block)


def tool_version(cmd):
    try:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, text=True, start_new_session=True)
    except OSError:
        return ""
    try:
        out, _ = proc.communicate(timeout=30)
        return out.strip()
    except subprocess.TimeoutExpired:
        return ""
    finally:
        kill_group(proc.pid)
        proc.communicate()


def configurations(args, bins, datadir):
    """Returns [(key, column label, argv or None, note)]; argv None = skipped."""
    wl, tracer, parrot = str(bins["workload"]), str(bins["floor_tracer"]), str(args.parrot)
    data = str(datadir)
    base = QUICK_SCALE if args.quick else 1.0
    scale = [str(base)] if args.quick else []
    have_parrot = os.access(parrot, os.X_OK)
    no_parrot = f"skipped: no agent binary at {args.parrot.name} (--parrot)"
    configs = [
        ("native", "native", [wl, data] + scale, None),
        ("filter", "filter, no tracer",
         [parrot, "filter", "--allow-all", "--", wl, data] + scale if have_parrot else None, no_parrot),
        ("floor", "floor tracer",
         [tracer, parrot, "filter", "--", wl, data] + scale if have_parrot else None, no_parrot),
        ("parrot", "parrot", [parrot, "run", "--", wl, data] + scale if have_parrot else None, no_parrot),
    ]
    strace = shutil.which("strace")
    configs.append(("strace", "strace",
                    [strace, "-f", "--seccomp-bpf", "-e", "trace=%file", "-o", "/dev/null", wl, data] + scale
                    if strace else None, "skipped: strace is not installed"))
    proot = shutil.which("proot")
    configs.append(("proot", "proot",
                    [proot, "-b", f"{data}:/bench", wl, "/bench", str(base * PROOT_SCALE)] if proot else None,
                    "skipped: proot is not installed"))
    return configs


current_group = None  # process group of the run in flight, killed on exit


def run_once(argv, timeout):
    """Runs the workload once; returns ({metric: value}, None) or (None, error)."""
    global current_group
    try:
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                stdin=subprocess.DEVNULL, text=True, start_new_session=True)
    except OSError as e:
        return None, f"cannot start: {e}"
    current_group = proc.pid
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        kill_group(proc.pid)
        proc.communicate()
        return None, f"timed out after {timeout:.0f} s"
    finally:
        kill_group(proc.pid)  # tracers use EXITKILL, but leave no stragglers either way
        current_group = None
    values = {}
    for line in out.splitlines():
        fields = line.split()
        if len(fields) == 3 and fields[0] in METRIC_NAMES:
            try:
                values[fields[0]] = float(fields[1])
            except ValueError:
                pass
    missing = [m for m, _, _ in METRICS if m not in values]
    if proc.returncode != 0 or missing:
        tail = " | ".join(err.strip().splitlines()[-5:]) or "(no stderr)"
        return None, f"exit status {proc.returncode}, missing {missing or 'nothing'}: {tail}"
    return values, None


def kill_group(pgid):
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def fmt_abs(value, unit):
    if unit == "MB/s":
        return f"{value:.0f} MB/s"
    return f"{value:.3g} µs" if value < 100 else f"{value:.0f} µs"


def machine_notes(nproc):
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    date = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return f"nproc {nproc}, {cpu}, Linux {platform.release()}, {date}"


def build_report(args, configs, results, failures, notes, proot_accel):
    active = [c for c in configs if c[2] is not None and c[0] != "native"]
    med = {}
    for key, _, _, _ in configs:
        runs = results.get(key, [])
        if runs:
            med[key] = {m: statistics.median(r[m] for r in runs) for m, _, _ in METRICS}

    header = ["Metric", "native"] + [label for _, label, _, _ in active]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    partial = False
    for metric, label, unit in METRICS:
        row = [label, fmt_abs(med["native"][metric], unit)]
        for key, _, _, _ in active:
            if key not in med:
                row.append("failed")
                continue
            a, n = med[key][metric], med["native"][metric]
            ratio = a / n
            mark = ""
            if failures.get(key):
                mark, partial = "†", True
            row.append(f"{ratio:.2f}×{mark}")
        lines.append("| " + " | ".join(row) + " |")

    out = ["# Figure 2.1 on this machine", ""] + lines + [""]
    out.append(f"Medians over {args.rounds} rounds; configurations alternate within each round. "
               "Cells are the configuration's time per operation divided by native's "
               "(lower is better), except **bandwidth**, which is the configuration's "
               "bandwidth divided by native's (the fraction of native bandwidth kept; "
               "higher is better). The 100 MiB file is in the page cache, so bandwidth "
               "measures copying from the cache, not the disk. The *native* column is "
               "the absolute value.")
    out.append("")
    ran = {c[0] for c in active}
    if "filter" in ran:
        out.append("- *filter, no tracer*: `parrot filter --allow-all` — the agent's seccomp "
                   "filter with every trap turned into allow: the kernel's floor for untrapped calls.")
    if "floor" in ran:
        out.append("- *floor tracer*: `floor_tracer parrot filter` — the real filter under a "
                   "tracer that only resumes each stop: the floor for a trapped call (one stop).")
    if "parrot" in ran:
        out.append("- *parrot*: `parrot run` — the agent.")
    if "strace" in ran:
        out.append("- *strace*: `strace -f --seccomp-bpf -e trace=%file -o /dev/null` "
                   "(stops only on file-name calls).")
    if "proot" in ran:
        if "seccomp_filter = no" in proot_accel:
            how = ("this proot is built **without** its seccomp accelerator, so it stops on "
                   "every system call, at entry and at exit")
        else:
            how = f"proot reports `{proot_accel or 'no accelerator line'}`"
        out.append(f"- *proot*: `proot -b DIR:/bench`; {how}. It runs {PROOT_SCALE}× the iterations "
                   "(the per-operation means need no more, and full counts take minutes).")
    if partial:
        out.append("- † some runs of this configuration failed (see stderr); median of the rest.")
    for note in notes:
        out.append(f"- {note}")
    out.append(f"- Machine: {machine_notes(args.nproc)}; {args.rounds} rounds; "
               + (f"everything pinned to CPU {args.pin} (tracer and tracee share it)."
                  if args.pin is not None else "not pinned (tracer and tracee may be on different CPUs)."))
    if args.quick:
        out.append(f"- **--quick smoke test** (iteration counts ×{QUICK_SCALE}): not a measurement.")

    out += ["", "## Targets for the agent", ""] + targets(med)
    return "\n".join(out) + "\n"


def targets(med):
    if "parrot" not in med:
        return ["The agent's column is missing, so no target can be checked."]
    p, n = med["parrot"], med["native"]
    f, fl = med.get("filter"), med.get("floor")
    checks = []  # (description, measured ratio or None, passed?)

    def add(text, ratio, ok):
        checks.append((text, ratio, ok(ratio) if ratio is not None else None))

    add("untrapped getpid within 10% of the bare-filter floor (parrot / filter)",
        p["getpid"] / f["getpid"] if f else None, lambda r: r <= 1.10)
    add("read 8 KiB ≤ 1.05× native", p["read_8k"] / n["read_8k"], lambda r: r <= 1.05)
    add("write 8 KiB ≤ 1.05× native", p["write_8k"] / n["write_8k"], lambda r: r <= 1.05)
    add("bandwidth ≥ 0.97× native", p["bandwidth_1m"] / n["bandwidth_1m"], lambda r: r >= 0.97)
    add("stat within 1.2× of the one-stop floor (parrot / floor tracer)",
        p["stat"] / fl["stat"] if fl else None, lambda r: r <= 1.2)
    add("fork+exec+wait ≤ 1.3× native", p["fork_exec_wait"] / n["fork_exec_wait"], lambda r: r <= 1.3)

    rows = ["| Target | Measured | Met |", "|---|---|---|"]
    for text, ratio, ok in checks:
        shown = f"{ratio:.3f}×" if ratio is not None else "n/a"  # 3 digits: limits are 1.05 etc.
        verdict = "n/a" if ok is None else ("yes" if ok else "**no**")
        rows.append(f"| {text} | {shown} | {verdict} |")
    return rows


def main():
    args = parse_args()
    args.nproc = len(os.sched_getaffinity(0))  # what `nproc` says, before we pin
    if args.no_pin:
        args.pin = None
    else:
        # One CPU for everything: a ptrace stop then costs two context switches
        # on that CPU. Unpinned, on a small VM, the tracer is often woken on the
        # other, idle vCPU, and each stop costs several times more, varying from
        # run to run by as much; the ratios would measure that, not the agent.
        allowed = sorted(os.sched_getaffinity(0))
        if args.pin is None:
            args.pin = allowed[-1]
        if args.pin not in allowed:
            sys.exit(f"run.py: --pin {args.pin}: not one of the CPUs allowed here {allowed}")
        os.sched_setaffinity(0, {args.pin})  # inherited by every process we start
    bins = compile_programs(WORK / "bin")
    datadir = WORK / "data"
    datadir.mkdir(parents=True, exist_ok=True)
    try:
        make_big_file(datadir / "big.dat")
        configs = configurations(args, bins, datadir)
        notes = [f"*{label}* {note}." for key, label, argv, note in configs if argv is None]
        for n in notes:
            log("run.py:", n)

        proot_accel = ""
        if any(c[0] == "proot" and c[2] for c in configs):
            accel = [l.strip() for l in tool_version(["proot", "--version"]).splitlines() if "accelerators" in l]
            proot_accel = accel[0] if accel else ""
        if any(c[0] == "parrot" and c[2] for c in configs):
            where = (args.parrot.relative_to(HERE.parent) if args.parrot.is_relative_to(HERE.parent)
                     else args.parrot.name)
            notes.append(f"Agent: `{where}`, version `{tool_version([str(args.parrot), '--version']) or '?'}`.")

        runnable = [c for c in configs if c[2] is not None]
        results, failures, dropped, raw_rows = {}, {}, set(), []
        for rnd in range(args.rounds):
            # Rotate the order each round so no configuration always runs first
            # (or always right after the page-cache-friendly native run).
            shift = rnd % len(runnable)
            order = runnable[shift:] + runnable[:shift]
            for key, label, argv, _ in order:
                if key in dropped:
                    continue
                log(f"run.py: round {rnd + 1}/{args.rounds}: {label} ...")
                started = time.monotonic()
                values, error = run_once(argv, args.timeout)
                seconds = round(time.monotonic() - started, 1)
                if values is None:
                    log(f"run.py: {label} failed: {error}")
                    failures[key] = failures.get(key, 0) + 1
                    if "timed out" in error:
                        dropped.add(key)  # do not spend another timeout on it
                    continue
                results.setdefault(key, []).append(values)
                raw_rows.append({"round": rnd + 1, "config": key, "seconds": seconds, **values})
            if "native" not in results:
                sys.exit("run.py: the native workload failed; nothing to compare against")

        report = build_report(args, configs, results, failures, notes, proot_accel)
        print(report, end="")
        if args.output:
            args.output.parent.mkdir(parents=True, exist_ok=True)
            args.output.write_text(report)
            raw = args.output.with_suffix(".raw")  # gitignored: every run's numbers
            raw.write_text("".join(json.dumps(r) + "\n" for r in raw_rows))
            log(f"run.py: wrote {args.output} and {raw.name}")
    finally:
        if current_group is not None:
            kill_group(current_group)
        if not args.keep_data:
            shutil.rmtree(datadir, ignore_errors=True)


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        if current_group is not None:
            kill_group(current_group)
        sys.exit(130)
