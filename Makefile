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

# Figure 2.1 of the Parrot paper on this machine: ratios to native.
bench: release
	python3 Benchmarks/run.py --parrot $(RELEASE)

# Re-embed filters/syscalls.policy into the binary after editing it.
policy:
	filters/embed.sh

clean:
	rm -rf .build Benchmarks/work
