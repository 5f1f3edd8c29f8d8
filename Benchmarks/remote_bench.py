#!/usr/bin/env python3
"""Figure 5.2's rows for HTTP and FTP on loopback, next to curl.

Starts nginx (HTTP) and vsftpd (FTP, anonymous, read-only) on 127.0.0.1 over
one directory holding an 8 KiB and a 128 MB file, then measures, alternating
configurations within every round and reporting medians:

- latency of stat, open+close and an 8 KiB pread through the agent
  (`--no-cache --attr-timeout 0`: every call is a request), next to curl's
  cost per request for the same questions on one kept-alive connection
  (HEAD or SIZE+MDTM; a ranged GET or REST+RETR);
- bandwidth of reading the 128 MB file through the agent, streaming
  (`--no-cache`) and through the whole-file cache (fresh each run, the fetch
  included), next to `curl -o /dev/null`.

Writes results/remote.md. See README.md.
"""

import argparse
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, str(Path(__file__).resolve().parent))
from run import kill_group, log, machine_notes, tool_version  # noqa: E402
from chirp_bench import compile_programs, pinned, run_timed  # noqa: E402

HERE = Path(__file__).resolve().parent
WORK = HERE / "work"
RESULTS = HERE / "results"
MIB = 1 << 20
BIG = 128 * MIB
LATENCY_ITERATIONS = 300
CURL_REQUESTS = 200
BANDWIDTH_REPEATS = 3
METRICS = [("stat", "stat"), ("open_close", "open+close"), ("read_8k", "read 8 KiB")]


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--parrot", type=Path, default=HERE.parent / ".build" / "release" / "parrot")
    p.add_argument("--rounds", type=int, default=5, help="rounds, at least 3 (default 5)")
    p.add_argument("--quick", action="store_true", help="16 MB file, fewer iterations, no results file")
    p.add_argument("--only", choices=["http", "ftp"], action="append", help="protocols (repeatable)")
    p.add_argument("--pin", type=int, metavar="CPU", help="CPU for everything (default: the last allowed)")
    p.add_argument("--no-pin", action="store_true")
    p.add_argument("--timeout", type=float, default=600)
    args = p.parse_args()
    if args.rounds < 3:
        p.error("--rounds must be at least 3 (the tables show medians)")
    if args.pin is None and not args.no_pin:
        args.pin = max(os.sched_getaffinity(0))
    args.parrot = Path(os.path.abspath(args.parrot))
    args.protocols = args.only or ["http", "ftp"]
    return args


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """A server process on 127.0.0.1 serving `root`, stopped with its group."""

    def __init__(self, name, argv, port, directory):
        self.name, self.port, self.dir = name, port, directory
        self.log = open(directory / f"{name}.log", "w")
        self.proc = subprocess.Popen(argv, stdout=self.log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and self.proc.poll() is None:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.05)
        self.stop()
        sys.exit(f"remote_bench.py: {name} did not start: {(directory / f'{name}.log').read_text()[-1500:]}")

    def stop(self):
        kill_group(self.proc.pid)
        self.proc.wait()
        self.log.close()


def start_nginx(directory, root):
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    port = free_port()
    conf = directory / "nginx.conf"
    user = "user root;\n" if os.geteuid() == 0 else ""
    conf.write_text(f"""{user}daemon off;
worker_processes 1;
pid {directory}/nginx.pid;
error_log {directory}/nginx-error.log;
events {{ worker_connections 64; }}
http {{
    access_log off;
    client_body_temp_path {directory}/nginx-tmp;
    proxy_temp_path {directory}/nginx-tmp;
    fastcgi_temp_path {directory}/nginx-tmp;
    uwsgi_temp_path {directory}/nginx-tmp;
    scgi_temp_path {directory}/nginx-tmp;
    keepalive_requests 1000000;
    sendfile on;
    server {{
        listen 127.0.0.1:{port};
        root {root};
        autoindex on;
    }}
}}
""")
    server = Server("nginx", [nginx, "-c", str(conf), "-e", str(directory / "nginx-error.log")], port, directory)
    server.version = "nginx " + (tool_version([nginx, "-v"]).split("/")[-1].strip() or "?")
    return server


def start_vsftpd(directory, root):
    vsftpd = shutil.which("vsftpd") or "/usr/sbin/vsftpd"
    if not os.path.exists(vsftpd):
        return None
    if os.geteuid() != 0:
        log("remote_bench.py: vsftpd needs root here (it chroots anonymous users): no FTP rows")
        return None
    port = free_port()
    empty = directory / "vsftpd-empty"
    empty.mkdir()
    conf = directory / "vsftpd.conf"
    conf.write_text(f"""listen=YES
listen_address=127.0.0.1
listen_port={port}
background=NO
anonymous_enable=YES
no_anon_password=YES
anon_root={root}
local_enable=NO
write_enable=NO
pasv_enable=YES
pasv_address=127.0.0.1
secure_chroot_dir={empty}
seccomp_sandbox=NO
xferlog_enable=NO
dirmessage_enable=NO
idle_session_timeout=600
data_connection_timeout=600
""")
    server = Server("vsftpd", [vsftpd, str(conf)], port, directory)
    server.version = "vsftpd " + (subprocess.run(["dpkg-query", "-W", "-f=${Version}", "vsftpd"],
                                                 capture_output=True, text=True).stdout or "?")
    return server


def curl_per_request(urls_args, timeout):
    """Seconds per request of one curl process asking CURL_REQUESTS times on one
    connection: (T(n) - T(1)) / (n - 1), so its start-up is not counted."""
    def timed(n):
        argv = ["curl", "-s", "-f"] + urls_args(n)
        t = time.monotonic()
        r = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=timeout)
        if r.returncode != 0:
            raise RuntimeError(f"curl exit {r.returncode}: {r.stderr.decode()[-300:]}")
        return time.monotonic() - t
    one = min(timed(1) for _ in range(3))
    return (timed(CURL_REQUESTS) - one) / (CURL_REQUESTS - 1)


def curl_download(target, base):
    return ["curl", "-s", "-f", "-o", target, "-w", "readall %{speed_download} B/s\n", f"{base}/big.dat"]


def configurations(args, wl, proto, port, cache_root):
    base = f"{proto}://127.0.0.1:{port}"
    agent_base = f"/{proto}/127.0.0.1:{port}"
    n = LATENCY_ITERATIONS // (10 if args.quick else 1)
    run = [str(args.parrot), "run"]
    stat_flag = ["-I"]
    return {
        "latency": [
            ("parrot", "parrot", pinned(args.pin, run + ["--no-cache", "--attr-timeout", "0", "--",
                                                          wl, "rlatency", f"{agent_base}/small.dat", str(n)])),
            ("curl", "curl", {
                "stat": lambda k: stat_flag + [f"{base}/small.dat"] * k,
                "read_8k": lambda k: ["-r", "0-8191"] + [f"{base}/small.dat"] * k,
            }),
        ],
        # Unpinned: a download's copies spread over both CPUs, as in a user's run.
        "bandwidth": [
            ("parrot", "parrot --no-cache", lambda: run + ["--no-cache", "--", wl, "readall",
                                                           f"{agent_base}/big.dat", str(MIB)]),
            ("parrot_cached", "parrot, cache", lambda: run + [
                "-t", tempfile.mkdtemp(prefix="cache-", dir=cache_root), "--", wl, "readall",
                f"{agent_base}/big.dat", str(MIB)]),
            ("curl", "curl -o /dev/null", lambda: curl_download("/dev/null", base)),
            ("curl_file", "curl -o FILE", lambda: curl_download(str(cache_root / "download"), base)),
        ],
    }


def measure(args, wl, proto, server, cache_root, size):
    configs = configurations(args, wl, proto, server.port, cache_root)
    lat, bw, failures = {}, {}, {}
    for rnd in range(args.rounds):
        log(f"remote_bench.py: {proto} round {rnd + 1}/{args.rounds} ...")
        for key, label, argv in configs["latency"]:
            if key == "curl":
                try:
                    values = {m: curl_per_request(f, args.timeout) * 1e6 for m, f in argv.items()}
                except (RuntimeError, subprocess.TimeoutExpired) as e:
                    log(f"remote_bench.py: {proto} {label}: {e}")
                    failures[f"{key} latency"] = failures.get(f"{key} latency", 0) + 1
                    continue
                # curl's open+close is the same question as its stat.
                values["open_close"] = values["stat"]
            else:
                _, values, error = run_timed(argv, args.timeout)
                if error:
                    log(f"remote_bench.py: {proto} {label}: {error}")
                    failures[f"{key} latency"] = failures.get(f"{key} latency", 0) + 1
                    continue
            lat.setdefault(key, []).append(values)
        bandwidth = configs["bandwidth"]
        # Several alternations a round: one 128 MiB read moves by 2x from run to run here.
        order = (bandwidth[rnd % len(bandwidth):] + bandwidth[:rnd % len(bandwidth)]) * BANDWIDTH_REPEATS
        for key, label, make in order:
            _, values, error = run_timed(make(), args.timeout)
            if not error and key.startswith("curl"):
                values = {"readall": values["readall"] / 1e6}
            elif not error and values.get("bytes") != size:
                error = f"read {values.get('bytes')} bytes, not {size}"
            shutil.rmtree(cache_root, ignore_errors=True)
            cache_root.mkdir(parents=True, exist_ok=True)
            if error:
                log(f"remote_bench.py: {proto} {label}: {error}")
                failures[f"{key} bandwidth"] = failures.get(f"{key} bandwidth", 0) + 1
                continue
            bw.setdefault(key, []).append(values["readall"])
    med_lat = {k: {m: statistics.median(r[m] for r in runs) for m, _ in METRICS} for k, runs in lat.items()}
    med_bw = {k: statistics.median(v) for k, v in bw.items()}
    return configs, med_lat, med_bw, failures


def report(proto, server, configs, lat, bw, failures, args, size):
    out = [f"## {proto.upper()} ({server.version} on 127.0.0.1)", "",
           "| Operation | parrot (µs) | curl (µs) | parrot / curl |", "|---|---|---|---|"]
    for m, label in METRICS:
        p, c = lat.get("parrot", {}).get(m), lat.get("curl", {}).get(m)
        out.append(f"| {label} | {p:.0f} | {c:.0f} | {p / c:.2f}× |" if p and c else f"| {label} | n/a | n/a | n/a |")
    out += ["", f"| Read of {size // MIB} MiB | MB/s | / curl -o /dev/null | / curl -o FILE |", "|---|---|---|---|"]
    for key, label, _ in configs["bandwidth"]:
        if key in bw:
            ratios = [f"{bw[key] / bw[c]:.2f}×" if c in bw else "n/a" for c in ("curl", "curl_file")]
            out.append(f"| {label} | {bw[key]:.0f} | {' | '.join(ratios)} |")
    for k, count in failures.items():
        out.append(f"\n{count} run(s) of *{k}* failed (see stderr); medians of the rest.")
    return out + [""]


def main():
    args = parse_args()
    if not shutil.which("curl"):
        sys.exit("remote_bench.py: curl is needed (Debian package curl)")
    WORK.mkdir(parents=True, exist_ok=True)
    directory = Path(tempfile.mkdtemp(prefix="remote-", dir=WORK))
    directory.chmod(0o755)
    root = directory / "root"
    root.mkdir()
    size = 16 * MIB if args.quick else BIG
    (root / "small.dat").write_bytes(b"x" * 8192)
    with open(root / "big.dat", "wb") as f:
        for _ in range(size // MIB):
            f.write(os.urandom(MIB))
    for path in (directory, root):
        path.chmod(0o755)
    wl = compile_programs(directory / "bin", False)["chirp_workload"]
    cache_root = directory / "caches"
    cache_root.mkdir()
    sections, servers = [], []
    try:
        for proto in args.protocols:
            server = start_nginx(directory, root) if proto == "http" else start_vsftpd(directory, root)
            if server is None:
                sections += [f"## {proto.upper()}", "", "Not measured: no server (see stderr).", ""]
                continue
            servers.append(server)
            configs, lat, bw, failures = measure(args, wl, proto, server, cache_root, size)
            sections += report(proto, server, configs, lat, bw, failures, args, size)
            server.stop()
            servers.remove(server)
    finally:
        for server in servers:
            server.stop()
    n = LATENCY_ITERATIONS // (10 if args.quick else 1)
    text = ["# Figure 5.2 for HTTP and FTP on this machine: the agent next to curl", ""] + sections + [
        f"Medians over {args.rounds} rounds; configurations alternate within each round (the reads "
        f"{BANDWIDTH_REPEATS} times a round).",
        "",
        f"- *parrot* latency: `parrot run --no-cache --attr-timeout 0 -- chirp_workload rlatency "
        f"/PROTO/127.0.0.1:PORT/small.dat {n}`: mean per call after a tenth as many untimed; every call "
        "is a request (no attribute cache, no whole-file cache).",
        f"- *curl* latency: one curl asking {CURL_REQUESTS} times on one connection (`-I`: HEAD, or SIZE "
        "and MDTM for FTP; `-r 0-8191`: a ranged GET, or REST and RETR), its start-up subtracted. Its "
        "open+close is its stat: opening asks the same question.",
        "- bandwidth: `chirp_workload readall` with 1 MiB reads, the open included; *cache* starts from an "
        "empty cache each run, so it includes the whole-file fetch into the cache directory. curl: its "
        "`speed_download`, into /dev/null (the network alone) and into a file on the same filesystem as "
        "the cache (a download). Not pinned to a CPU; the latency runs are.",
        "",
        "Machine: " + machine_notes(os.cpu_count()) + ".",
    ]
    shutil.rmtree(directory, ignore_errors=True)
    print("\n".join(text))
    if not args.quick:
        RESULTS.mkdir(exist_ok=True)
        (RESULTS / "remote.md").write_text("\n".join(text) + "\n")


if __name__ == "__main__":
    # kill(1) cleans up like Ctrl-C: the servers started here stop with the script.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    main()
