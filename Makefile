# The two commands of the README: `make demo` and `make test`.
SWIFT ?= swift
RELEASE := .build/release/parrot
DEBUG := .build/debug/parrot

.PHONY: all deps build release test demo bench policy clean

all: build

deps:
	@scripts/ensure-deps.sh

build: deps
	$(SWIFT) build

release: deps
	$(SWIFT) build -c release

# Unit and integration tests (the integration tests run real programs under
# .build/debug/parrot and compare them with native runs and with proot).
test: build
	$(SWIFT) test --disable-xctest

demo: release
	scripts/demo.sh $(RELEASE)

# The Parrot paper's Figure 2.1 on this machine (ratios to native), then
# Figures 5.2 and 5.1 for Chirp on loopback (latency and write throughput
# against the raw protocol) and the 100-client load check, Figure 5.2's rows
# for HTTP (nginx) and FTP (vsftpd) next to curl, then Figure 5.3
# (the Andrew-like benchmark: copy, list, scan, make, delete of a generated C
# tree; native, agent, proot, agent over Chirp). Plots need matplotlib,
# installed here with pip when missing (without it: tables only).
# Figure 5.2 runs twice: everything on one CPU (every party's CPU time adds
# up), then the server on a CPU of its own, as a server on another host would
# be. Figure 5.1 (a copy: a pipeline of program, agent and server) runs unpinned,
# and so do streamed reads at the same block sizes (read-ahead against one
# request per read).
# CCTOOLS_PARROT=/path/to/parrot_run adds cctools Parrot's columns.
CCTOOLS = $(if $(CCTOOLS_PARROT),--cctools-parrot $(CCTOOLS_PARROT))
bench: release
	python3 Benchmarks/run.py --parrot $(RELEASE)
	@python3 -c 'import matplotlib' 2>/dev/null || python3 -m pip install --quiet matplotlib \
		|| echo "bench: matplotlib could not be installed: tables only, no plots"
	python3 Benchmarks/chirp_bench.py --parrot $(RELEASE) --only 5.2 --only load $(CCTOOLS)
	python3 Benchmarks/chirp_bench.py --parrot $(RELEASE) --only 5.2 --server-apart $(CCTOOLS)
	python3 Benchmarks/chirp_bench.py --parrot $(RELEASE) --only 5.1 --no-pin $(CCTOOLS)
	python3 Benchmarks/chirp_bench.py --parrot $(RELEASE) --only reads --no-pin $(CCTOOLS)
	python3 Benchmarks/remote_bench.py --parrot $(RELEASE)
	python3 Benchmarks/andrew.py --parrot $(RELEASE)

# Re-embed filters/syscalls.policy into the binary after editing it.
policy:
	filters/embed.sh

clean:
	rm -rf .build Benchmarks/work
