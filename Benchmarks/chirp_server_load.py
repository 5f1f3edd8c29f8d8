#!/usr/bin/env python3
"""Load test for `parrot chirp-server`: N clients at once, each putting a file
of SIZE MiB and getting it back, every copy checked by MD5.

Starts the server itself on 127.0.0.1, on a free port, over a scratch
directory under Benchmarks/work, and stops it by its pid afterwards.

    swift build -c release
    python3 Benchmarks/chirp_server_load.py --parrot .build/release/parrot \\
        --clients 100 --megabytes 10

Clients speak the protocol themselves (address authentication, putfile,
getfile), one thread and one connection each, so that the numbers measure the
server rather than the start-up of 100 client processes. --cctools uses
Debian's chirp_put and chirp_get instead. Exits 1 if any copy failed.
"""

import argparse
import hashlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
WORK = HERE / "work" / "chirp-load"


class Connection:
    """One authenticated Chirp connection (protocols/chirp.md §2, §6.3)."""

    def __init__(self, port, timeout):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.file = self.sock.makefile("rb")
        self.sock.sendall(b"address\n")
        replies = [self.line() for _ in range(4)]
        if replies[:3] != ["yes", "yes", "yes"]:
            raise RuntimeError(f"authentication refused: {replies}")
        self.subject = "address:" + self.line()

    def line(self):
        text = self.file.readline()
        if not text:
            raise RuntimeError("connection closed by the server")
        return text.decode().rstrip("\n")

    def result(self):
        value = int(self.line())
        if value < 0:
            raise RuntimeError(f"chirp error {value}")
        return value

    def putfile(self, path, data):
        self.sock.sendall(f"putfile {path} 420 {len(data)}\n".encode())
        self.result()  # go-ahead
        self.sock.sendall(data)
        if self.result() != len(data):
            raise RuntimeError("short putfile")

    def getfile(self, path):
        self.sock.sendall(f"getfile {path}\n".encode())
        length = self.result()
        data = self.file.read(length)
        if len(data) != length:
            raise RuntimeError("short getfile")
        return data

    def close(self):
        self.sock.close()


def start_server(parrot, root, threads):
    port_file = WORK / "port"
    acl = WORK / "acl"
    acl.write_text("address:127.0.0.1 rwlda\n")
    log = open(WORK / "server.log", "w")
    process = subprocess.Popen(
        [parrot, "chirp-server", "--root", str(root), "--port", "0", "--port-file", str(port_file),
         "--auth", "address", "--default-acl", str(acl), "--io-threads", str(threads)],
        stdout=log, stderr=subprocess.STDOUT)
    deadline = time.time() + 30
    while time.time() < deadline:
        if process.poll() is not None:
            sys.exit(f"server exited: {(WORK / 'server.log').read_text()}")
        if port_file.exists() and port_file.read_text().strip():
            return process, int(port_file.read_text())
        time.sleep(0.02)
    process.kill()
    sys.exit("server did not start")


def protocol_client(index, port, data, digest, timeout, errors):
    try:
        connection = Connection(port, timeout)
        connection.putfile(f"/copy{index}", data)
        back = connection.getfile(f"/copy{index}")
        connection.close()
        if hashlib.md5(back).hexdigest() != digest:
            errors.append(f"client {index}: checksum differs")
    except Exception as error:  # every failure is counted, none stops the others
        errors.append(f"client {index}: {error}")


def cctools_client(index, port, source, digest, timeout, errors):
    address = f"127.0.0.1:{port}"
    back = WORK / f"back{index}"
    for argv in (["chirp_put", "-a", "address", str(source), address, f"/copy{index}"],
                 ["chirp_get", "-a", "address", address, f"/copy{index}", str(back)]):
        result = subprocess.run(argv, capture_output=True, timeout=timeout)
        if result.returncode != 0:
            errors.append(f"client {index}: {' '.join(argv)}: {result.stderr.decode().strip()}")
            return
    if hashlib.md5(back.read_bytes()).hexdigest() != digest:
        errors.append(f"client {index}: checksum differs")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--parrot", default=".build/release/parrot")
    parser.add_argument("--clients", type=int, default=100)
    parser.add_argument("--megabytes", type=float, default=10)
    parser.add_argument("--io-threads", type=int, default=16)
    parser.add_argument("--timeout", type=float, default=300)
    parser.add_argument("--cctools", action="store_true", help="use chirp_put and chirp_get")
    options = parser.parse_args()

    shutil.rmtree(WORK, ignore_errors=True)
    root = WORK / "root"
    root.mkdir(parents=True)
    data = os.urandom(int(options.megabytes * 1024 * 1024))
    digest = hashlib.md5(data).hexdigest()
    source = WORK / "source"
    source.write_bytes(data)
    server, port = start_server(options.parrot, root, options.io_threads)
    errors = []
    try:
        start = time.monotonic()
        if options.cctools:
            work = [(cctools_client, (i, port, source, digest, options.timeout, errors)) for i in range(options.clients)]
        else:
            work = [(protocol_client, (i, port, data, digest, options.timeout, errors)) for i in range(options.clients)]
        threads = [threading.Thread(target=function, args=arguments) for function, arguments in work]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.monotonic() - start
        for index in range(options.clients):
            copy = root / f"copy{index}"
            if not copy.exists() or hashlib.md5(copy.read_bytes()).hexdigest() != digest:
                errors.append(f"client {index}: the server's copy differs")
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=10)
    moved = 2 * options.clients * len(data) / 1e6
    print(f"{options.clients} clients x {options.megabytes:g} MB put+get ({'cctools' if options.cctools else 'protocol'} clients): "
          f"{elapsed:.2f} s, {moved / elapsed:.0f} MB/s in total, {len(set(errors))} errors on {os.cpu_count()} CPUs")
    for error in sorted(set(errors))[:20]:
        print("  " + error)
    shutil.rmtree(WORK, ignore_errors=True)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
