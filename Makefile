# The two commands of README.md: `make demo` and `make test`. Both install what they need first (scripts/setup.sh).
SHELL := /bin/bash
.DEFAULT_GOAL := build
FUZZ_SECONDS ?= 60

.PHONY: setup build test unit-test kernel-test differential-test fuzz-replay docs-test demo bench fuzz clean

setup:
	@./scripts/setup.sh

build: setup
	swift build

# Every test: Swift unit and end-to-end tests, the SocketCAN tests on a real kernel (user-mode-linux), the
# differential test against cantools, the fuzz regressions, the docs' examples.
test: unit-test kernel-test differential-test fuzz-replay docs-test
	@echo "make test: all test stages passed"

unit-test: setup
	swift build --build-tests
	swift test --skip-build

# The build machines' kernel has no CAN: boot Debian's user-mode-linux kernel with vcan and run the kernel suite
# inside it (docs/can.md). If the guest cannot boot, this fails and says why.
kernel-test: setup
	swift build --build-tests
	./scripts/uml/selftest.sh
	AXLE_KERNEL_TESTS=1 ./scripts/uml/run-in-guest.sh --timeout 600 -- \
		.build/debug/AxlePackageTests.xctest --testing-library swift-testing --filter "KernelCANTests|KernelAgentTests|KernelCommandTests|KernelDiagnosticsTests|KernelScanToolTests|KernelDiagnosticsServiceTests|KernelMalformedSessionTests|KernelConfigurationTests"

differential-test: setup
	swift build --product axle
	.venv/bin/python scripts/differential/run.py --axle .build/debug/axle

fuzz-replay: setup
	./scripts/fuzz.sh replay

# Every command example in README.md and docs/*.md, run as written against the debug binaries, a private mosquitto
# and axled on the simulated demo sedan (scripts/docs/check_examples.py says how, and how to mark a synopsis or a skip).
# Before it, the generator of docs/performance.md and docs/fleet-scale.md on a fixture of make bench's results, and
# the fleet bench's reading of connection counters (a second, no build).
docs-test: setup
	swift build
	python3 scripts/docs/test_check_examples.py
	python3 scripts/bench/test_performance_page.py
	python3 scripts/bench/test_fleet.py
	python3 scripts/docs/check_examples.py

# The main job: the agent on the simulated demo sedan against a private mosquitto, a blind spot and its backlog,
# a coolant-overheat alert, the technician's CLI, signed remote commands (a courier's trunk-open, refused while driving
# and run when parked; a feature bought for 24 h), a collection rule added over the air to the running car (a signed
# configuration bundle, pushed), and a summary (scripts/demo.py; about a minute).
demo: setup
	swift build -c release --product axle
	swift build -c release --product axled
	swift build -c release --product axle-fleet
	.venv/bin/python scripts/demo.py --bin .build/release

# Release benchmarks beside cantools and a Python pipeline; writes docs/performance.md and the README's Performance
# table (about 30 minutes; BENCH_QUICK=1 or BENCH_SKIP=stage,... leave stages out: scripts/bench.sh lists them).
bench: setup
	./scripts/bench.sh

fuzz: setup
	./scripts/fuzz.sh run $(FUZZ_SECONDS)

clean:
	rm -rf .build Benchmarks/.build Fuzz/.build

# Installs the agent as a systemd service (Systemd/README.md): binaries, unit, sysusers, tmpfiles and sysctl
# snippets, networkd examples, firmware profiles. Packagers set DESTDIR (a staging root) and PREFIX. BUILD_DIR names
# an existing bin directory to install from (e.g. .build/debug) instead of building release binaries first.
PREFIX ?= /usr/local
DESTDIR ?=
BINDIR ?= $(PREFIX)/bin
DATADIR ?= $(PREFIX)/share/axle
SYSTEMD_UNIT_DIR ?= $(PREFIX)/lib/systemd/system
SYSUSERS_DIR ?= $(PREFIX)/lib/sysusers.d
TMPFILES_DIR ?= $(PREFIX)/lib/tmpfiles.d
SYSCTL_DIR ?= $(PREFIX)/lib/sysctl.d
BUILD_DIR ?=
# The executables to install: axle-fleet only once Package.swift declares it (recursive `=`: looked up on use only).
INSTALL_PRODUCTS = axle axled $(if $(shell grep -s 'executable.name: "axle-fleet"' Package.swift),axle-fleet)
INSTALL_PROFILES = $(notdir $(wildcard Firmware-Profiles/*))

.PHONY: install uninstall

# Release binaries with the Swift runtime linked in (--static-swift-stdlib): nothing to install on the vehicle but the
# binaries, and axled's resident memory drops from 28 MB to 19 MB (no shared Foundation/ICU; make bench measures it).

install:
	@set -euo pipefail; \
	bin_dir="$(BUILD_DIR)"; \
	if [ -z "$$bin_dir" ]; then swift build -c release --static-swift-stdlib; bin_dir="$$(swift build -c release --show-bin-path)"; fi; \
	for product in $(INSTALL_PRODUCTS); do \
		[ -x "$$bin_dir/$$product" ] || { echo "make install: $$bin_dir/$$product is missing: build it first (swift build -c release), or leave BUILD_DIR unset" >&2; exit 1; }; \
	done; \
	install -d "$(DESTDIR)$(BINDIR)" "$(DESTDIR)$(SYSTEMD_UNIT_DIR)" "$(DESTDIR)$(SYSUSERS_DIR)" "$(DESTDIR)$(TMPFILES_DIR)" \
		"$(DESTDIR)$(SYSCTL_DIR)" "$(DESTDIR)$(DATADIR)/examples" "$(DESTDIR)$(DATADIR)/profiles"; \
	for product in $(INSTALL_PRODUCTS); do install -m 0755 "$$bin_dir/$$product" "$(DESTDIR)$(BINDIR)/$$product"; done; \
	sed 's|@BINDIR@|$(BINDIR)|g' Systemd/axled.service > "$(DESTDIR)$(SYSTEMD_UNIT_DIR)/axled.service"; \
	chmod 0644 "$(DESTDIR)$(SYSTEMD_UNIT_DIR)/axled.service"; \
	install -m 0644 Systemd/axle.sysusers "$(DESTDIR)$(SYSUSERS_DIR)/axle.conf"; \
	install -m 0644 Systemd/axle.tmpfiles "$(DESTDIR)$(TMPFILES_DIR)/axle.conf"; \
	install -m 0644 Systemd/90-axle-can.conf "$(DESTDIR)$(SYSCTL_DIR)/90-axle-can.conf"; \
	install -m 0644 Systemd/80-can0.network Systemd/81-can1-fd.network "$(DESTDIR)$(DATADIR)/examples/"; \
	for profile in $(INSTALL_PROFILES); do \
		rm -rf "$(DESTDIR)$(DATADIR)/profiles/$$profile"; \
		cp -R "Firmware-Profiles/$$profile" "$(DESTDIR)$(DATADIR)/profiles/$$profile"; \
		chmod -R u=rwX,go=rX "$(DESTDIR)$(DATADIR)/profiles/$$profile"; \
	done; \
	if [ -f docs/axled.example.toml ]; then install -m 0644 docs/axled.example.toml "$(DESTDIR)$(DATADIR)/axled.toml.example"; fi; \
	echo "make install: installed $(strip $(INSTALL_PRODUCTS)), axled.service and profiles ($(INSTALL_PROFILES)) under $(DESTDIR)$(PREFIX)"; \
	if [ -z "$(DESTDIR)" ]; then \
		echo "next: systemd-sysusers && systemd-tmpfiles --create axle.conf && sysctl --system && systemctl daemon-reload && systemctl enable --now axled"; \
	fi

uninstall:
	rm -f $(foreach product,axle axled axle-fleet,"$(DESTDIR)$(BINDIR)/$(product)") \
		"$(DESTDIR)$(SYSTEMD_UNIT_DIR)/axled.service" "$(DESTDIR)$(SYSUSERS_DIR)/axle.conf" \
		"$(DESTDIR)$(TMPFILES_DIR)/axle.conf" "$(DESTDIR)$(SYSCTL_DIR)/90-axle-can.conf"
	rm -rf "$(DESTDIR)$(DATADIR)"
