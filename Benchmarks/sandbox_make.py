#!/usr/bin/env python3
"""`make -j2` of a small C project: natively, under the agent, and under the
agent with --sandbox (Landlock + tracer), without and with a DENY entry. Runs
alternate, medians are reported.

Usage: python3 Benchmarks/sandbox_make.py [--parrot PATH] [--rounds N]
"""
import argparse, os, shutil, statistics, subprocess, tempfile, time

def make_project(root):
    for i in range(1, 13):
        with open(f"{root}/f{i}.c", "w") as f:
            f.write(f'#include <stdio.h>\n#include <string.h>\n#include <stdlib.h>\n'
                    f'int f{i}(int x) {{ char b[64]; snprintf(b, sizeof b, "%d", x); return (int)strlen(b) + x; }}\n')
    with open(f"{root}/main.c", "w") as f:
        f.write("#include <stdio.h>\n" + "".join(f"int f{i}(int);\n" for i in range(1, 13)))
        f.write("int main(void) { int s = 0;\n" + "".join(f"s += f{i}({i});\n" for i in range(1, 13)))
        f.write('printf("%d\\n", s); return 0; }\n')
    objs = " ".join(["main.o"] + [f"f{i}.o" for i in range(1, 13)])
    with open(f"{root}/Makefile", "w") as f:
        f.write(f"prog: {objs}\n\tcc -o $@ {objs}\n%.o: %.c\n\tcc -O2 -c $< -o $@\n")

def timed(argv, cwd):
    for name in os.listdir(cwd):
        if name.endswith(".o") or name == "prog":
            os.unlink(os.path.join(cwd, name))
    start = time.perf_counter()
    subprocess.run(argv, cwd=cwd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start

def main():
    here = os.path.dirname(os.path.abspath(__file__))
    parser = argparse.ArgumentParser()
    parser.add_argument("--parrot", default=os.path.join(here, "..", ".build", "release", "parrot"))
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    work = tempfile.mkdtemp(prefix="parrot-sandbox-make-")
    try:
        make_project(work)
        variants = {
            "native": ["make", "-s", "-j2"],
            "agent": [args.parrot, "run", "--", "make", "-s", "-j2"],
            "sandbox": [args.parrot, "run", "--sandbox", "--deny-net", "-M", "/=rx", "-M", f"{work}=rwx",
                        "-M", "/tmp=rwx", "--", "make", "-s", "-j2"],
            # A DENY entry: readlink is trapped again and the kernel rules are carved.
            "deny": [args.parrot, "run", "--sandbox", "--deny-net", "-M", "/=rx", "-M", f"{work}=rwx",
                     "-M", "/tmp=rwx", "-M", "/root=DENY", "--", "make", "-s", "-j2"],
        }
        times = {name: [] for name in variants}
        for _ in range(args.rounds):
            for name, argv in variants.items():
                times[name].append(timed(argv, work))
        medians = {name: statistics.median(values) for name, values in times.items()}
        for name, value in medians.items():
            print(f"{name:8} median {value * 1000:7.1f} ms  ({', '.join(f'{v * 1000:.0f}' for v in times[name])})")
        for name in ("sandbox", "deny"):
            print(f"{name} / agent = {medians[name] / medians['agent']:.2f}")
    finally:
        shutil.rmtree(work)

if __name__ == "__main__":
    main()
