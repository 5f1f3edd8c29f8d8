#!/usr/bin/env python3
"""Figures 5.1 and 5.2 of Thain & Livny's Parrot paper, for Chirp on loopback.

Starts a Chirp server on 127.0.0.1 (the bundled `parrot chirp-server`, or
Debian's chirp_server), then measures, alternating configurations within every
round and reporting medians:

- Figure 5.2: latency of stat, open+close, an 8 KiB pread and an 8 KiB pwrite
  through the agent, next to the same loops natively on a local directory, a
  minimal raw protocol client (chirp_raw.c) and cctools' chirp_benchmark;
- Figure 5.1: throughput of writing a 128 MB file into the server at block
  sizes 4K..1M, with dd and write(2) through the cache (a local copy sent
  back when closed) and with write(2) streamed on a virtual descriptor (one
  request per write, sent ahead of its reply);
- a load check: 100 concurrent raw clients each writing 10 MB and reading it
  back.

Writes Markdown tables and PNG plots to results/. See README.md.
"""

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, str(Path(__file__).resolve().parent))
from run import kill_group, log, machine_notes, tool_version  # noqa: E402  (Figure 2.1's runner)

HERE = Path(__file__).resolve().parent
WORK = HERE / "work"
RESULTS = HERE / "results"
MB = 1_000_000
MIB = 1 << 20
BLOCKS = [4 << 10, 16 << 10, 64 << 10, 256 << 10, 1 << 20]
TOTAL = 128 * MIB
QUICK_TOTAL = 16 * MIB
LATENCY_ITERATIONS = {"bundled": 2000, "debian": 100}  # Debian's server: 1-4 ms a request
# Debian's server costs 1-4 ms a request, so the one-request-per-block rows
# (streaming, raw pwrite) write at most this many blocks against it.
DEBIAN_MAX_REQUESTS = 256
LOAD_CLIENTS, LOAD_BYTES = 100, 10 * MB
# The numbers for cctools Parrot against a cctools chirp_server here.
CCTOOLS_QUOTED = {"stat_extra_us": 270, "mbps_1m": (340, 440), "mbps_4k": 40}

LATENCY_METRICS = [("stat", "stat"), ("open_close", "open+close"),
                   ("read_8k", "read 8 KiB"), ("write_8k", "write 8 KiB")]
# chirp_benchmark's names for the same loops (its `open` is open+close).
CHIRP_BENCHMARK_NAMES = {"stat": "stat", "open": "open_close", "read8": "read_8k", "write8": "write_8k"}


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--parrot", type=Path, default=HERE.parent / ".build" / "release" / "parrot",
                   help="the agent (default ../.build/release/parrot)")
    p.add_argument("--server", choices=["bundled", "debian"],
                   help="bundled: `parrot chirp-server`; debian: chirp_server "
                        "(default bundled when the agent has the chirp-server command)")
    p.add_argument("--chirp-server", type=Path, metavar="PATH",
                   help="with --server debian: this chirp_server binary instead of the one on PATH "
                        "(e.g. a cctools build without the 16 MB wipe per request)")
    p.add_argument("--server-parrot", type=Path,
                   help="binary whose chirp-server command serves (default: --parrot)")
    p.add_argument("--cctools-parrot", type=Path, metavar="PATH",
                   help="cctools parrot_run, for a column of its own")
    p.add_argument("--agent-option", action="append", default=[], metavar="OPTION",
                   help="pass OPTION to every `parrot run` (repeatable), e.g. --agent-option=--ptrace-only")
    p.add_argument("--rounds", type=int, default=5, help="rounds, at least 3 (default 5)")
    p.add_argument("--quick", action="store_true",
                   help="16 MB file, a tenth of the latency iterations, no load check; "
                        "writes no results unless --output-dir")
    p.add_argument("--only", choices=["5.1", "5.2", "load", "reads"], action="append",
                   help="run only these parts (repeatable)")
    p.add_argument("--output-dir", type=Path, help="default results/ (none with --quick)")
    p.add_argument("--pin", type=int, metavar="CPU",
                   help="CPU for the clients, agent and workload (default: the last allowed)")
    p.add_argument("--server-cpu", type=int, metavar="CPU",
                   help="CPU for the server (default: the same as --pin; on a small VM waking a "
                        "process on another vCPU costs more than the request)")
    p.add_argument("--server-apart", action="store_true",
                   help="the server on another CPU than the rest (the first allowed one that differs), "
                        "as a server on another host would be; the latency figure is then "
                        "figure-5.2-server-apart")
    p.add_argument("--no-pin", action="store_true", help="pin nothing")
    p.add_argument("--timeout", type=float, default=600, help="seconds allowed per run (default 600)")
    args = p.parse_args()
    if args.rounds < 3:
        p.error("--rounds must be at least 3 (the tables show medians)")
    if args.output_dir is None and not args.quick:
        args.output_dir = RESULTS
    args.parrot = Path(os.path.abspath(args.parrot))
    args.server_parrot = Path(os.path.abspath(args.server_parrot or args.parrot))
    args.parts = set(args.only or ["5.1", "5.2", "load", "reads"])
    if args.quick and not args.only:
        args.parts.discard("load")
    return args


def compile_programs(bindir, static_workload):
    bindir.mkdir(parents=True, exist_ok=True)
    cc = os.environ.get("CC", "cc")
    built = {}
    for name in ("chirp_workload", "chirp_raw", "floor_chirp_agent"):
        r = subprocess.run([cc, "-O2", "-Wall", "-o", str(bindir / name), str(HERE / f"{name}.c")],
                           capture_output=True, text=True)
        if r.returncode != 0:
            sys.exit(f"chirp_bench.py: compiling {name}.c failed:\n{r.stderr}")
        built[name] = str(bindir / name)
    if static_workload:
        # cctools Parrot (8.0) cannot load dynamic programs with this glibc
        # ("libc.so.6: cannot stat shared object"); a static workload runs.
        out = bindir / "chirp_workload_static"
        r = subprocess.run([cc, "-O2", "-static", "-o", str(out), str(HERE / "chirp_workload.c")],
                           capture_output=True, text=True)
        if r.returncode == 0:
            built["chirp_workload_static"] = str(out)
        else:
            log(f"chirp_bench.py: no static chirp_workload (needs libc.a), so no cctools column: {r.stderr[-300:]}")
    return built


def bundled_server_works(binary):
    try:
        r = subprocess.run([str(binary), "chirp-server", "--help"], capture_output=True, text=True,
                           timeout=30, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return r.returncode == 0 and "--root" in r.stdout


def pinned(cpu, argv):
    return argv if cpu is None else ["taskset", "-c", str(cpu)] + argv


class Server:
    """A Chirp server on 127.0.0.1 with a free port, stopped by its pid."""

    ACL = "unix:* rwlda\naddress:127.0.0.1 rwlda\nhostname:* rwlda\n"

    def __init__(self, kind, args):
        self.kind, self.args = kind, args
        WORK.mkdir(parents=True, exist_ok=True)
        self.dir = Path(tempfile.mkdtemp(prefix="chirp-server-", dir=WORK))
        self.dir.chmod(0o755)  # Debian's server, run as root, works as another user
        self.root = self.dir / "root"
        for d in ("root", "transient", "challenge"):
            (self.dir / d).mkdir()
        (self.dir / "acl").write_text(self.ACL)
        port_file = self.dir / "port"
        if kind == "bundled":
            argv = [str(args.server_parrot), "chirp-server", "--root", str(self.root), "--port", "0",
                    "--port-file", str(port_file), "--interface", "127.0.0.1",
                    "--default-acl", str(self.dir / "acl"), "--inherit-default-acl",
                    "--challenge-dir", str(self.dir / "challenge")]
            self.version = "parrot chirp-server " + (tool_version([str(args.server_parrot), "--version"]) or "?")
        else:
            binary = str(args.chirp_server) if args.chirp_server else shutil.which("chirp_server")
            if not binary or not os.access(binary, os.X_OK):
                sys.exit(f"chirp_bench.py: chirp_server not found ({binary or 'Debian package coop-computing-tools'})")
            argv = [binary, "--root=" + str(self.root), "--interface=127.0.0.1",
                    "--port-file=" + str(port_file), "--advertise=127.0.0.1", "--catalog-name=localhost",
                    "--auth=unix", "--auth=hostname", "--auth=address",
                    "--default-acl=" + str(self.dir / "acl"), "--inherit-default-acl",
                    "--transient=" + str(self.dir / "transient"),
                    "--challenge-dir=" + str(self.dir / "challenge"), "--idle-clients=1000"]
            if os.geteuid() == 0:
                # It refuses to run as root without a user to drop to.
                argv.append("--user=9999")
                for d in ("root", "transient", "challenge"):
                    os.chown(self.dir / d, 9999, 9999)
            name = "chirp_server (--chirp-server)" if args.chirp_server else "Debian chirp_server"
            # Its --version names the binary's path: keep only the name.
            version = (tool_version([binary, "--version"]).splitlines() or ["?"])[0]
            self.version = name + " " + version.replace(binary, Path(binary).name)
        self.log = open(self.dir / "log", "w")
        self.proc = subprocess.Popen(pinned(args.server_cpu, argv), stdout=self.log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            text = port_file.read_text().strip() if port_file.exists() else ""
            if text.isdigit():
                self.port = int(text)
                return
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        text = (self.dir / "log").read_text()[-2000:]
        self.stop()
        sys.exit(f"chirp_bench.py: the {kind} server did not start: {text}")

    def url(self, path):
        return f"/chirp/127.0.0.1:{self.port}/{path.lstrip('/')}"

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
        kill_group(self.proc.pid)  # its forked children (Debian's forks one per connection)
        self.proc.wait()
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)


current_group = None


def run_timed(argv, timeout, env=None):
    """Runs argv; returns (wall seconds, {name: value}, None) or (None, None, error)."""
    global current_group
    started = time.monotonic()
    try:
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
                                stdin=subprocess.DEVNULL, text=True, start_new_session=True)
    except OSError as e:
        return None, None, f"cannot start: {e}"
    current_group = proc.pid
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        kill_group(proc.pid)
        proc.communicate()
        return None, None, f"timed out after {timeout:.0f} s"
    finally:
        kill_group(proc.pid)
        current_group = None
    seconds = time.monotonic() - started
    if proc.returncode != 0:
        tail = " | ".join(err.strip().splitlines()[-4:]) or "(no stderr)"
        return None, None, f"exit status {proc.returncode}: {tail}"
    values = {}
    for line in out.splitlines():
        f = line.split()
        if len(f) == 3:
            try:
                values[f[0]] = float(f[1])
            except ValueError:
                pass
    return seconds, values, None


def parse_chirp_benchmark(text):
    # Lines like "stat\t  2866.9333 +/-  339.8903  usec".
    values = {}
    for line in text.splitlines():
        f = line.split()
        if len(f) >= 2 and f[0] in CHIRP_BENCHMARK_NAMES:
            try:
                values[CHIRP_BENCHMARK_NAMES[f[0]]] = float(f[1])
            except ValueError:
                pass
    return values


# ----------------------------------------------------------------- Figure 5.2

def latency_configs(args, bins, server, localdir, n):
    wl, raw = bins["chirp_workload"], bins["chirp_raw"]
    pin = args.pin
    configs = [
        ("native", "native", pinned(pin, [wl, "latency", str(localdir), str(n)]), None),
        ("raw", "raw client", pinned(pin, [raw, str(server.port), "latency", "/lat-raw", str(n)]), None),
    ]
    # The cheapest ptrace agent there can be, serving stat, open, pread and
    # close itself: what the stops cost (raw -> floor) and what the agent
    # adds to them (floor -> parrot).
    configs.append(("floor", "floor agent",
                    pinned(pin, [bins["floor_chirp_agent"], str(server.port), str(args.parrot), "filter", "--", wl,
                                 "rlatency", server.url("lat-floor/small.dat"), str(n)]), None))
    cb = shutil.which("chirp_benchmark")
    if cb:
        # chirp_benchmark HOST FILE LOOPS CYCLES BWLOOPS: each loop runs LOOPS
        # times per cycle and it prints the mean over CYCLES; BWLOOPS 0 skips
        # its bandwidth part. It also times getpid, write1, read1 (ignored).
        loops = max(n // 5, 1)
        configs.append(("chirp_benchmark", "chirp_benchmark",
                        pinned(pin, [cb, f"127.0.0.1:{server.port}", "/lat-cb.dat", str(loops), "5", "0"]), None))
    # Streaming: each call is one request, the paper's measurement. With the
    # whole-file cache (the default) reads come from a local copy instead.
    configs.append(("parrot", "parrot",
                    pinned(pin, [str(args.parrot), "run", *args.agent_option, "--no-cache", "--attr-timeout", "0", "--", wl, "latency",
                                 server.url("lat-parrot"), str(n)]),
                    None))
    configs.append(("parrot_cached", "parrot, cache",
                    pinned(pin, [str(args.parrot), "run", *args.agent_option, "--", wl, "latency", server.url("lat-parrot"), str(n)]),
                    None))
    if args.cctools_parrot and "chirp_workload_static" in bins:
        configs.append(("cctools", "cctools parrot_run",
                        pinned(pin, [str(args.cctools_parrot), bins["chirp_workload_static"], "latency",
                                     server.url("lat-cctools"), str(n)]), None))
    return configs


def run_latency(args, bins, server, raw_rows):
    # A repaired chirp_server answers as fast as the bundled one.
    n = LATENCY_ITERATIONS["bundled" if args.chirp_server else server.kind]
    if args.quick:
        n = max(n // 10, 10)
    localdir = WORK / "latency-local"
    localdir.mkdir(parents=True, exist_ok=True)
    for d in ("lat-raw", "lat-parrot", "lat-cctools", "lat-floor"):
        (server.root / d).mkdir(exist_ok=True)
        if server.kind == "debian" and os.geteuid() == 0:
            os.chown(server.root / d, 9999, 9999)
    (server.root / "lat-floor" / "small.dat").write_bytes(b"x" * 8192)
    configs = latency_configs(args, bins, server, localdir, n)
    results, failures = {}, {}
    for rnd in range(args.rounds):
        order = configs[rnd % len(configs):] + configs[:rnd % len(configs)]
        for key, label, argv, _ in order:
            log(f"chirp_bench.py: 5.2 round {rnd + 1}/{args.rounds}: {label} ...")
            if key == "chirp_benchmark":
                seconds, values, error = run_chirp_benchmark(argv, args.timeout)
            else:
                seconds, values, error = run_timed(argv, args.timeout)
            missing = [m for m in measured(key) if values is not None and m not in values]
            if error or missing:
                log(f"chirp_bench.py: {label} failed: {error or 'missing ' + str(missing)}")
                failures[key] = failures.get(key, 0) + 1
                continue
            results.setdefault(key, []).append(values)
            raw_rows.append({"figure": "5.2", "round": rnd + 1, "config": key, **values})
    shutil.rmtree(localdir, ignore_errors=True)
    med = {k: {m: statistics.median(r[m] for r in runs) for m in measured(k)}
           for k, runs in results.items()}
    # The ratio within each round too (parrot and the raw client run close
    # together): a machine that drifts between rounds moves both.
    by_round = {(r["round"], r["config"]): r for r in raw_rows if r.get("figure") == "5.2"}
    paired = {}
    for m, _ in LATENCY_METRICS:
        ratios = [by_round[(rnd, "parrot")][m] / by_round[(rnd, "raw")][m]
                  for rnd in range(1, args.rounds + 1)
                  if (rnd, "parrot") in by_round and (rnd, "raw") in by_round and by_round[(rnd, "raw")].get(m)]
        if ratios:
            paired[m] = statistics.median(ratios)
    med["paired"] = paired
    return configs, med, failures, n


def measured(key):
    """The metrics a latency configuration reports (the floor agent: no writes)."""
    return [m for m, _ in LATENCY_METRICS if key != "floor" or m != "write_8k"]


def run_chirp_benchmark(argv, timeout):
    try:
        r = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        return None, None, "timed out"
    values = parse_chirp_benchmark(r.stdout)
    if r.returncode != 0 and not values:
        return None, None, f"exit status {r.returncode}: {r.stdout[-300:]} {r.stderr[-300:]}"
    return 0, values, None


def latency_report(configs, med, failures, n, server, args):
    cols = [(k, label) for k, label, _, _ in configs if k in med]
    lines = ["| Operation | " + " | ".join(label for _, label in cols)
             + " | parrot − native | parrot / raw | paired |", "|" + "---|" * (len(cols) + 4)]
    for m, label in LATENCY_METRICS:
        row = [label] + [fmt_us(med[k][m]) if m in med[k] else "" for k, _ in cols]
        p, nat, raw = (med.get(k, {}).get(m) for k in ("parrot", "native", "raw"))
        row.append(fmt_us(p - nat) if p and nat else "n/a")
        row.append(f"{p / raw:.2f}×" if p and raw else "n/a")
        q = med.get("paired", {}).get(m)
        row.append(f"{q:.2f}×" if q else "n/a")
        lines.append("| " + " | ".join(row) + " |")
    apart = args.pin is not None and args.server_cpu != args.pin
    title = "# Figure 5.2 on this machine: latency over Chirp on loopback" + (
        ", the server on a CPU of its own" if apart else "")
    out = [title, ""] + lines + [""]
    out.append(f"Mean time per operation in µs, medians over {args.rounds} rounds of {n} iterations "
               f"(after a tenth as many untimed); configurations alternate within each round. "
               f"Server: {server.version} on 127.0.0.1.")
    out.append("")
    out.append("- *parrot / raw* is the ratio of the medians; *paired* is the median of the ratios "
               "within each round, which a machine drifting between rounds moves less.")
    out.append("- *native*: `chirp_workload latency DIR` on a local directory.")
    out.append("- *raw client*: `chirp_raw` (Benchmarks/chirp_raw.c), one request and its reply per "
               "operation on one connection: the protocol's floor. open+close is two round trips.")
    if "floor" in med:
        out.append("- *floor agent*: `floor_chirp_agent PORT parrot filter -- chirp_workload rlatency FILE` "
                   "(Benchmarks/floor_chirp_agent.c): the cheapest possible ptrace agent under the same filter. "
                   "It serves stat, a read-only open, pread and close of remote names itself with exactly the "
                   "agent's requests (results written into the program's memory, the call skipped) and lets "
                   "every other stop through; no writes. Raw client to floor agent is what the stops cost; "
                   "floor agent to parrot is what the agent adds.")
    if "chirp_benchmark" in med:
        out.append("- *chirp_benchmark*: cctools' own client (Debian's build): its `stat`, `open` (open+close), "
                   "`read8`, `write8` loops through its chirp_reli layer.")
    out.append("- *parrot, cache*: the same with the whole-file cache (the default): the open checks the "
               "cached copy with one stat, and reads of the copy stay local; the written file is opened "
               "write-only, so it is streamed as below.")
    out.append("- *parrot*: `parrot run --no-cache --attr-timeout 0 -- chirp_workload latency /chirp/127.0.0.1:PORT/DIR`; every "
               "call is one request (open+close: two) and one ptrace stop, or for reads and closes one "
               "answered call (a seccomp user notification, no stop); the writes are gathered: the agent "
               "collects small writes (here 8 KiB over the same 8 KiB again and again) and sends them when "
               "another call comes or 256 KiB are gathered, so that row is the cost of an answered call, "
               "not a round trip.")
    if "cctools" in med:
        out.append("- *cctools parrot_run*: the same workload, linked statically, under cctools Parrot "
                   "(8.0 cannot load dynamic programs with this glibc). Its read 8 KiB is served from its "
                   "client's 64 KiB read buffer (the same offset every time), not a round trip.")
    else:
        out.append(f"- cctools Parrot is not in Debian and was not given (`--cctools-parrot`); the issue "
                   f"quotes, for cctools Parrot against a repaired cctools server here, a stat "
                   f"~{CCTOOLS_QUOTED['stat_extra_us']} µs above native.")
    for k, count in failures.items():
        out.append(f"- {count} run(s) of *{k}* failed (see stderr); medians of the rest.")
    return out


def fmt_us(v):
    return f"{v:.1f}" if abs(v) < 1000 else f"{v:.0f}"


# ----------------------------------------------------------------- Figure 5.1

def throughput_configs(args, bins, server, localdir, total):
    """[(key, label, per-block argv maker or None, block-independent)]."""
    wl, raw, pin, parrot = bins["chirp_workload"], bins["chirp_raw"], args.pin, str(args.parrot)

    def nbytes(bs):
        if server.kind == "debian":
            return min(total, bs * DEBIAN_MAX_REQUESTS)
        return total

    def dd(prefix, target):
        return lambda bs: (pinned(pin, prefix + ["dd", "if=/dev/zero", f"of={target}", f"bs={bs}",
                                                  f"count={total // bs}", "status=none"]), total)

    configs = [
        ("native_dd", "native dd", dd([], str(localdir / "big")), False),
        ("parrot_dd", "parrot dd (cache)", dd([parrot, "run", *args.agent_option, "--"], server.url("big-dd")), False),
        ("parrot_cached", "parrot write(2) (cache)",
         lambda bs: (pinned(pin, [parrot, "run", *args.agent_option, "--", wl, "stream", server.url("big-cached"), str(bs),
                                  str(nbytes(bs))]), nbytes(bs)), False),
        ("parrot_stream", "parrot write(2) (streamed, --no-cache)",
         lambda bs: (pinned(pin, [parrot, "run", *args.agent_option, "--no-cache", "--", wl, "stream", server.url("big-stream"),
                                  str(bs), str(nbytes(bs))]), nbytes(bs)), False),
        ("raw_pwrite", "raw pwrite",
         lambda bs: (pinned(pin, [raw, str(server.port), "pwrite", "/big-raw", str(bs), str(nbytes(bs))]),
                     nbytes(bs)), False),
        ("raw_putfile", "raw putfile",
         lambda bs: (pinned(pin, [raw, str(server.port), "putfile", "/big-putfile", str(total)]), total), True),
    ]
    chirp_put = shutil.which("chirp_put")
    if chirp_put:
        src = localdir / "src"
        configs.append(("chirp_put", "chirp_put",
                        lambda bs: (pinned(pin, [chirp_put, "-a", "address", str(src),
                                                 f"127.0.0.1:{server.port}", "/big-chirp-put"]), total), True))
    if args.cctools_parrot and "chirp_workload_static" in bins:
        configs.append(("cctools_stream", "cctools parrot_run write(2)",
                        lambda bs: (pinned(pin, [str(args.cctools_parrot), bins["chirp_workload_static"], "stream",
                                                 server.url("big-cctools"), str(bs), str(nbytes(bs))]),
                                    nbytes(bs)), False))
    return configs


def remote_name(key):
    return {"parrot_dd": "big-dd", "parrot_cached": "big-cached", "parrot_stream": "big-stream", "raw_pwrite": "big-raw",
            "raw_putfile": "big-putfile", "chirp_put": "big-chirp-put", "cctools_stream": "big-cctools"}.get(key)


def run_throughput(args, bins, server, raw_rows):
    total = QUICK_TOTAL if args.quick else TOTAL
    localdir = WORK / "throughput-local"
    localdir.mkdir(parents=True, exist_ok=True)
    configs = throughput_configs(args, bins, server, localdir, total)
    if any(k == "chirp_put" for k, *_ in configs):
        with open(localdir / "src", "wb") as f:
            f.write(os.urandom(MIB) * (total // MIB))
    # Agent start-up and exit, included in every wall-clock time through it.
    startup = []
    results, failures = {}, {}
    for rnd in range(args.rounds):
        seconds, _, error = run_timed(pinned(args.pin, [str(args.parrot), "run", *args.agent_option, "--", "true"]), 60)
        if seconds is not None:
            startup.append(seconds)
        order = configs[rnd % len(configs):] + configs[:rnd % len(configs)]
        blocks = BLOCKS if rnd % 2 == 0 else BLOCKS[::-1]
        for key, label, make, independent in order:
            for bs in ([MIB] if independent else blocks):
                argv, nbytes = make(bs)
                log(f"chirp_bench.py: 5.1 round {rnd + 1}/{args.rounds}: {label} bs={bs // 1024}K ...")
                seconds, _, error = run_timed(argv, args.timeout)
                if error is None:
                    error = check_size(server, localdir, key, nbytes)
                note_rate((results, failures, raw_rows), "5.1", rnd, key, label, bs, nbytes, seconds, error)
    shutil.rmtree(localdir, ignore_errors=True)
    med = {k: {bs: statistics.median(v) for bs, v in per.items()} for k, per in results.items()}
    return configs, med, failures, total, (statistics.median(startup) if startup else None)


def note_rate(tables, figure, rnd, key, label, bs, nbytes, seconds, error):
    """Adds one timed transfer to tables = (results, failures, raw_rows), or counts its failure."""
    results, failures, raw_rows = tables
    if error:
        log(f"chirp_bench.py: {label} bs={bs} failed: {error}")
        failures[key] = failures.get(key, 0) + 1
        return
    mbps = nbytes / seconds / MB
    results.setdefault(key, {}).setdefault(bs, []).append(mbps)
    raw_rows.append({"figure": figure, "round": rnd + 1, "config": key, "block": bs,
                     "bytes": nbytes, "seconds": round(seconds, 4), "MB/s": round(mbps, 1)})


def check_size(server, localdir, key, nbytes):
    name = remote_name(key)
    path = localdir / "big" if key == "native_dd" else server.root / name
    try:
        size = path.stat().st_size
    except OSError as e:
        return f"no file afterwards: {e}"
    finally:
        if key != "native_dd":
            path.unlink(missing_ok=True)  # each run creates its file afresh
    return None if size == nbytes else f"file has {size} bytes, expected {nbytes}"


def throughput_report(configs, med, failures, total, startup, server, args):
    labels = {k: label for k, label, _, _ in configs}
    independent = {k for k, _, _, ind in configs if ind}
    per_block = [k for k, _, _, ind in configs if not ind and k in med]
    head = ["Block"] + [labels[k] for k in per_block] + ["parrot dd / native dd", "streamed / raw pwrite"]
    if "cctools_stream" in med:
        head += ["streamed / cctools", "cache / cctools"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for bs in BLOCKS:
        row = [f"{bs // 1024} KiB"] + [f"{med[k][bs]:.0f}" if bs in med[k] else "failed" for k in per_block]
        row.append(ratio(med, "parrot_dd", "native_dd", bs))
        row.append(ratio(med, "parrot_stream", "raw_pwrite", bs))
        if "cctools_stream" in med:
            row.append(ratio(med, "parrot_stream", "cctools_stream", bs))
            row.append(ratio(med, "parrot_cached", "cctools_stream", bs))
        lines.append("| " + " | ".join(row) + " |")
    out = [f"# Figure 5.1 on this machine: writing a {total // MIB} MiB file into Chirp on loopback", ""]
    out += lines + [""]
    for k in independent:
        if k in med:
            out.append(f"- *{labels[k]}* (one request for the whole file, no block size): "
                       f"{med[k][MIB]:.0f} MB/s.")
    out.append("")
    out.append(f"MB/s (10^6 bytes a second), medians over {args.rounds} rounds; configurations and block "
               f"sizes alternate. Each figure is bytes over the wall-clock time of the whole command, "
               f"agent start-up and exit included (`parrot run -- true` takes "
               f"{startup * 1e3:.0f} ms here). Server: {server.version} on 127.0.0.1."
               if startup else "")
    out.append("")
    out.append("- *native dd*: `dd if=/dev/zero of=LOCAL bs=BS` into the page cache.")
    out.append("- *parrot dd (cache)*: `parrot run -- dd ... of=/chirp/127.0.0.1:PORT/big-dd`, the default "
               "mode: dd writes a local copy at local speed (its output is a real descriptor), and the "
               "copy goes to the server in one `putfile` when it is closed. The block size then hardly "
               "matters; the write-back is included.")
    out.append("- *parrot write(2) (cache)*: `parrot run -- chirp_workload stream /chirp/...`: the same "
               "through the cache, from a program that writes its own descriptor.")
    out.append("- *parrot write(2) (streamed, --no-cache)*: the same with `--no-cache`: open, `write` at "
               "the block size on the virtual descriptor, close. Each write is one answered call and one `pwrite` "
               "request, sent ahead of its reply (write-behind, at most 64 requests or 8 MiB "
               "outstanding), so the program's next write overlaps the server's work.")
    out.append("- *raw pwrite*: `chirp_raw` writing the same file with one `pwrite` request per block on "
               "one connection: the floor for the streaming path.")
    out.append("- *raw putfile*: `chirp_raw` sending the whole file in one `putfile` from memory: the "
               "floor for the materialized path's write-back.")
    if "chirp_put" in med:
        out.append("- *chirp_put*: cctools' command (Debian's) copying a local file of that size.")
    if server.kind == "debian":
        out.append(f"- Against Debian's server (1-4 ms a request) the streaming and raw pwrite rows write "
                   f"only {DEBIAN_MAX_REQUESTS} blocks (at most the full size).")
    if "cctools_stream" in med:
        out.append("- *cctools parrot_run write(2)*: `parrot_run chirp_workload stream /chirp/...`, the "
                   "workload linked statically (cctools Parrot 8.0 cannot load dynamic programs with this "
                   "glibc, so it cannot run Debian's dd either); it has no materialization: its writes go "
                   "through its 64 KiB-buffered Chirp client.")
    else:
        lo, hi = CCTOOLS_QUOTED["mbps_1m"]
        out.append(f"- cctools Parrot was not given (`--cctools-parrot`); the issue quotes {lo}-{hi} MB/s at "
                   f"1 MiB blocks and ~{CCTOOLS_QUOTED['mbps_4k']} MB/s at 4 KiB for it on this machine.")
    for k, count in failures.items():
        out.append(f"- {count} run(s) of *{labels[k]}* failed (see stderr); medians of the rest.")
    return out


def ratio(med, a, b, bs):
    if bs in med.get(a, {}) and bs in med.get(b, {}):
        return f"{med[a][bs] / med[b][bs]:.2f}×"
    return "n/a"


# ------------------------------------------------------------------ streamed reads

def read_configs(args, bins, server, local):
    """[(key, label, argv maker)]: read(2) of the whole file at a block size, each its own run."""
    wl, pin, parrot = bins["chirp_workload"], args.pin, str(args.parrot)
    remote = server.url("big-read")
    configs = [
        ("native", "native", lambda bs: pinned(pin, [wl, "readall", str(local), str(bs)])),
        ("ahead", "parrot --no-cache", lambda bs: pinned(pin, [parrot, "run", *args.agent_option, "--no-cache", "--", wl, "readall",
                                                                remote, str(bs)])),
        ("each", "parrot --no-cache --attr-timeout 0",
         lambda bs: pinned(pin, [parrot, "run", *args.agent_option, "--no-cache", "--attr-timeout", "0", "--", wl, "readall",
                                 remote, str(bs)])),
    ]
    if args.cctools_parrot and "chirp_workload_static" in bins:
        configs.append(("cctools", "cctools parrot_run",
                        lambda bs: pinned(pin, [str(args.cctools_parrot), bins["chirp_workload_static"], "readall",
                                                remote, str(bs)])))
    return configs


def run_reads(args, bins, server, raw_rows):
    total = QUICK_TOTAL if args.quick else TOTAL
    localdir = WORK / "reads-local"
    localdir.mkdir(parents=True, exist_ok=True)
    data = os.urandom(MIB) * (total // MIB)
    for path in (localdir / "big", server.root / "big-read"):
        path.write_bytes(data)
    configs = read_configs(args, bins, server, localdir / "big")
    results, failures = {}, {}
    for rnd in range(args.rounds):
        order = configs[rnd % len(configs):] + configs[:rnd % len(configs)]
        blocks = BLOCKS if rnd % 2 == 0 else BLOCKS[::-1]
        for key, label, make in order:
            for bs in blocks:
                log(f"chirp_bench.py: reads round {rnd + 1}/{args.rounds}: {label} bs={bs // 1024}K ...")
                seconds, values, error = run_timed(make(bs), args.timeout)
                if error is None and values.get("bytes") != total:
                    error = f"read {values.get('bytes')} bytes, expected {total}"
                note_rate((results, failures, raw_rows), "reads", rnd, key, label, bs, total, seconds, error)
    shutil.rmtree(localdir, ignore_errors=True)
    med = {k: {bs: statistics.median(v) for bs, v in per.items()} for k, per in results.items()}
    return configs, med, failures, total


def reads_report(configs, med, failures, total, server, args):
    labels = {k: label for k, label, _ in configs}
    keys = [k for k, _, _ in configs if k in med]
    head = ["Block"] + [labels[k] for k in keys] + ["read-ahead / one request a read"]
    if "cctools" in med:
        head.append("read-ahead / cctools")
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for bs in BLOCKS:
        row = [f"{bs // 1024} KiB"] + [f"{med[k][bs]:.0f}" if bs in med[k] else "failed" for k in keys]
        row.append(ratio(med, "ahead", "each", bs))
        if "cctools" in med:
            row.append(ratio(med, "ahead", "cctools", bs))
        lines.append("| " + " | ".join(row) + " |")
    out = [f"# Streamed reads on this machine: reading a {total // MIB} MiB file from Chirp on loopback", ""]
    out += lines + [""]
    out.append(f"MB/s (10^6 bytes a second), medians over {args.rounds} rounds; configurations and block sizes "
               f"alternate. Each figure is bytes over the wall-clock time of the whole command, agent start-up "
               f"and exit included. Server: {server.version} on 127.0.0.1.")
    out.append("")
    out.append("- *native*: `chirp_workload readall LOCAL BS` (open, `read` at the block size to the end) on a "
               "local copy in the page cache.")
    out.append("- *parrot --no-cache*: the same on `/chirp/127.0.0.1:PORT/big-read` with `--no-cache`: every "
               "read is a stop on a virtual descriptor; reads that continue the one before are served from "
               "data read ahead (64 KiB or four reads, doubling up to 1 MiB a request) for as long as "
               "`--attr-timeout` (1 s) trusts it.")
    out.append("- *parrot --no-cache --attr-timeout 0*: nothing kept, so each read is one `pread` request: "
               "the agent before read-ahead.")
    if "cctools" in med:
        out.append("- *cctools parrot_run*: the workload linked statically under cctools Parrot, whose Chirp "
                   "client reads through a 64 KiB buffer.")
    for k, count in failures.items():
        out.append(f"- {count} run(s) of *{labels[k]}* failed (see stderr); medians of the rest.")
    return out


# ------------------------------------------------------------------ load check

def run_load(args, bins, server):
    (server.root / "load").mkdir(exist_ok=True)
    if server.kind == "debian" and os.geteuid() == 0:
        os.chown(server.root / "load", 9999, 9999)
    argv = [bins["chirp_raw"], str(server.port), "load", str(LOAD_CLIENTS), str(LOAD_BYTES), "/load"]
    what = (f"`chirp_raw load`: {LOAD_CLIENTS} processes at once, each on its own connection writing "
            f"{LOAD_BYTES // MB} MB in 1 MiB `pwrite`s, reading it back with `pread`, comparing, unlinking")
    log("chirp_bench.py: load check ...")
    seconds, values, error = run_timed(argv, args.timeout)
    if error:
        return [f"- Load check ({what}): **failed**: {error}"], False
    failed = values.get("load_failed", 0)
    ok = failed == 0
    return [f"- Load check ({what}): {int(values.get('load_clients', LOAD_CLIENTS))} clients, "
            f"{int(failed)} failed, {values.get('load_seconds', seconds):.1f} s "
            f"({values.get('load_throughput', 0):.0f} MB/s written and read back in all)."], ok


# --------------------------------------------------------------------- targets

def targets(lat, thr, load_ok, setting=""):
    rows = ["| Target | Measured | Met |", "|---|---|---|"]
    if lat:
        med = lat[1]
        if "parrot" in med and "raw" in med:
            worst = max(med["parrot"][m] / med["raw"][m] for m, _ in LATENCY_METRICS)
            rows.append(f"| per-operation latency through the agent ≤ 1.5× the raw client's (worst of four{setting}) "
                        f"| {worst:.2f}× | {'yes' if worst <= 1.5 else '**no**'} |")
        paired = med.get("paired", {})
        if len(paired) == len(LATENCY_METRICS):
            rows.append(f"| (for reference) the same, as the median of the ratios within each round "
                        f"| {max(paired.values()):.2f}× | |")
        if "floor" in med:
            floor = max(med["floor"][m] / med["raw"][m] for m in measured("floor"))
            rows.append(f"| (for reference) the floor agent / the raw client (worst of stat, open+close, read): "
                        f"the least a ptrace agent adds here | {floor:.2f}× | |")
    if thr:
        med = thr[1]
        # The same program through both agents (cctools Parrot cannot run dd here).
        c = med.get("cctools_stream", {}).get(MIB)
        lo, hi = CCTOOLS_QUOTED["mbps_1m"]
        for key, what, main in [("parrot_stream", "streamed write(2)", True), ("parrot_cached", "write(2) through the cache", False),
                                ("parrot_dd", "dd through the cache", False)]:
            p = med.get(key, {}).get(MIB)
            if p is None:
                continue
            name = f"1 MiB-block copy, {what}" + ("" if main else " (for reference)")
            if c:
                verdict = ("yes" if p >= 2 * c else "**no**") if main else ("yes" if p >= 2 * c else "no")
                rows.append(f"| {name} ≥ 2× cctools Parrot's (measured, {c:.0f} MB/s) "
                            f"| {p:.0f} MB/s = {p / c:.2f}× | {verdict} |")
            else:
                verdict = "yes" if p >= 2 * hi else ("against the low end only" if p >= 2 * lo else "no")
                rows.append(f"| {name} ≥ 2× cctools Parrot's (quoted {lo}-{hi} MB/s, so ≥ "
                            f"{2 * lo}-{2 * hi}) | {p:.0f} MB/s | {verdict if not main or verdict != 'no' else '**no**'} |")
    if load_ok is not None:
        rows.append(f"| {LOAD_CLIENTS} concurrent clients each copying {LOAD_BYTES // MB} MB, no error "
                    f"| {'no error' if load_ok else 'errors'} | {'yes' if load_ok else '**no**'} |")
    return rows


# ------------------------------------------------------------------------ plots

def plot_latency(path, configs, med):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    cols = [(k, label) for k, label, _, _ in configs if k in med]
    fig, ax = plt.subplots(figsize=(10, 4.5))
    width = 0.8 / len(cols)
    for i, (k, label) in enumerate(cols):
        xs = [j + (i - (len(cols) - 1) / 2) * width for j in range(len(LATENCY_METRICS))]
        ax.bar(xs, [med[k].get(m, 0) for m, _ in LATENCY_METRICS], width, label=label)
    ax.set_xticks(range(len(LATENCY_METRICS)), [label for _, label in LATENCY_METRICS])
    ax.set_yscale("log")
    ax.set_ylabel("µs per operation (log scale)")
    ax.set_title("Figure 5.2: latency over Chirp on loopback")
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1))
    ax.grid(axis="y", which="both", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def plot_throughput(path, configs, med, total):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(10, 4.5))
    for k, label, _, independent in configs:
        if k not in med:
            continue
        if independent:
            ax.axhline(med[k][MIB], linestyle=":", color="gray" if k == "chirp_put" else "black",
                       label=label + " (whole file)")
            continue
        xs = [bs for bs in BLOCKS if bs in med[k]]
        ax.plot(xs, [med[k][bs] for bs in xs], marker="o", label=label)
    ax.set_xscale("log", base=2)
    ax.set_xticks(BLOCKS, [f"{bs // 1024}K" if bs < MIB else "1M" for bs in BLOCKS])
    ax.set_xlabel("block size")
    ax.set_ylabel("MB/s")
    ax.set_title(f"Figure 5.1: writing a {total // MIB} MiB file into Chirp on loopback")
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1))
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def write_plot(fn, path, *a):
    try:
        fn(path, *a)
        return f"Plot: `{path.name}`."
    except ImportError:
        log("chirp_bench.py: matplotlib is not installed (pip install matplotlib): no plot")
        return "No plot: matplotlib is not installed (`pip install matplotlib`)."


# ------------------------------------------------------------------------- main

def load_note():
    try:
        return "load average " + " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "load average unknown"


def main():
    args = parse_args()
    nproc = len(os.sched_getaffinity(0))
    allowed = sorted(os.sched_getaffinity(0))
    if args.no_pin:
        args.pin = args.server_cpu = None
    else:
        if args.pin is None:
            args.pin = allowed[-1]
        if args.server_apart:
            others = [c for c in allowed if c != args.pin]
            if not others:
                print(f"chirp_bench.py: --server-apart needs two CPUs, and only {allowed} is allowed: skipped")
                return
            args.server_cpu = others[0]
        if args.server_cpu is None:
            args.server_cpu = args.pin
        for c in (args.pin, args.server_cpu):
            if c not in allowed:
                sys.exit(f"chirp_bench.py: CPU {c} is not one of the CPUs allowed here {allowed}")
        if not shutil.which("taskset"):
            sys.exit("chirp_bench.py: taskset not found (util-linux); use --no-pin")
    if not os.access(args.parrot, os.X_OK):
        sys.exit(f"chirp_bench.py: no agent at {args.parrot} (make release, or --parrot)")
    notes = []
    if args.server is None:
        if bundled_server_works(args.server_parrot):
            args.server = "bundled"
        else:
            args.server = "debian"
            notes.append("The agent has no `chirp-server` command, so Debian's chirp_server serves; it spends "
                         "1-4 ms on every request (it zeroes a 16 MB buffer each time), so latencies measure "
                         "that server more than the agent.")
    bins = compile_programs(WORK / "bin", args.cctools_parrot is not None)
    load_before = load_note()
    started = time.monotonic()
    server = Server(args.server, args)
    raw_rows, lat, thr, load_lines, load_ok, reads = [], None, None, [], None, None
    try:
        if "5.2" in args.parts:
            lat = run_latency(args, bins, server, raw_rows)
        if "5.1" in args.parts:
            thr = run_throughput(args, bins, server, raw_rows)
        if "load" in args.parts:
            load_lines, load_ok = run_load(args, bins, server)
        if "reads" in args.parts:
            reads = run_reads(args, bins, server, raw_rows)
    finally:
        if current_group is not None:
            kill_group(current_group)
        server.stop()
    minutes = (time.monotonic() - started) / 60

    if args.pin is None:
        pin_text = "nothing pinned"
    elif args.server_cpu == args.pin:
        pin_text = f"everything (server, clients, agent, workloads) pinned to CPU {args.pin}"
    else:
        pin_text = f"clients, agent and workloads pinned to CPU {args.pin}, the server to CPU {args.server_cpu}"
    where = (args.parrot.relative_to(HERE.parent) if args.parrot.is_relative_to(HERE.parent)
             else args.parrot.name)
    machine = (f"- Machine: {machine_notes(nproc)}; {pin_text}; {load_before} before and {load_note()} after "
               f"({minutes:.1f} min). Agent `{where}`, `{tool_version([str(args.parrot), '--version']) or '?'}`"
               + (f", run with `{' '.join(args.agent_option)}`." if args.agent_option else "."))
    quick = ["- **--quick smoke test**: not a measurement."] if args.quick else []
    setting = ""
    if args.pin is not None:
        setting = "; server on its own CPU" if args.server_cpu != args.pin else "; everything on one CPU"
    tgt = ["", "## Targets", ""] + targets(lat, thr, load_ok, setting) + [""] + load_lines
    outputs = {}
    if lat:
        apart = args.pin is not None and args.server_cpu != args.pin
        outputs["figure-5.2-server-apart" if apart else "figure-5.2"] = (latency_report(*lat, server, args) + [f"- {n}" for n in notes] + [machine]
                                 + quick + tgt, plot_latency, (lat[0], lat[1]))
    if thr:
        outputs["figure-5.1"] = (throughput_report(*thr, server, args) + [f"- {n}" for n in notes] + [machine]
                                 + quick + tgt, plot_throughput, (thr[0], thr[1], thr[3]))
    if reads:
        outputs["streamed-reads"] = (reads_report(*reads, server, args) + [machine] + quick, None, ())
    if not outputs:
        print("\n".join(tgt + [machine]))
    for name, (lines, plot, plot_args) in outputs.items():
        if args.output_dir:
            args.output_dir.mkdir(parents=True, exist_ok=True)
            if plot:
                lines.append("- " + write_plot(plot, args.output_dir / f"{name}.png", *plot_args))
            (args.output_dir / f"{name}.md").write_text("\n".join(lines) + "\n")
            log(f"chirp_bench.py: wrote {name}.md")
        print("\n".join(lines) + "\n")
    if args.output_dir and raw_rows:
        name = "figure-5.raw" if len(outputs) != 1 else next(iter(outputs)) + ".raw"
        (args.output_dir / name).write_text("".join(json.dumps(r) + "\n" for r in raw_rows))


if __name__ == "__main__":
    # kill(1) cleans up like Ctrl-C: the servers started here stop with the script.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        main()
    except KeyboardInterrupt:
        if current_group is not None:
            kill_group(current_group)
        sys.exit(130)
