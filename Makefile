# The two commands of README.md: `make demo` and `make test`. Both install what they need first (scripts/setup.sh).
SHELL := /bin/bash
.DEFAULT_GOAL := build
FUZZ_SECONDS ?= 60
SAMPLE_DBC := Firmware-Profiles/demo-sedan/demo_sedan.dbc
SAMPLE_LOG := Firmware-Profiles/demo-sedan/sample-drive.log

.PHONY: setup build test unit-test kernel-test differential-test fuzz-replay demo bench fuzz clean

setup:
	@./scripts/setup.sh

build: setup
	swift build

# Every test: Swift unit and end-to-end tests, the SocketCAN tests on a real kernel (user-mode-linux), the
# differential test against cantools, the fuzz regressions.
test: unit-test kernel-test differential-test fuzz-replay
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
		.build/debug/AxlePackageTests.xctest --testing-library swift-testing --filter KernelCANTests

differential-test: setup
	swift build --product axle
	.venv/bin/python scripts/differential/run.py --axle .build/debug/axle

fuzz-replay: setup
	./scripts/fuzz.sh replay

# The main job, for now: decode a bundled recording of the demo sedan with the project's own DBC.
demo: setup
	swift build -c release --product axle
	@echo; echo "== axle dbc inspect $(SAMPLE_DBC) (first messages)"
	@.build/release/axle dbc inspect $(SAMPLE_DBC) | head -25
	@echo; echo "== axle dbc decode: a readable table (first frames of $(SAMPLE_LOG))"
	@.build/release/axle dbc decode --dbc $(SAMPLE_DBC) $(SAMPLE_LOG) | head -24
	@echo; echo "== axle dbc decode --format jsonl (one JSON object per frame)"
	@.build/release/axle dbc decode --format jsonl --dbc $(SAMPLE_DBC) $(SAMPLE_LOG) | head -3
	@echo; echo "== axle dbc encode: a trunk-open command frame"
	@.build/release/axle dbc encode --dbc $(SAMPLE_DBC) TrunkCommand TrunkOpenRequest=1 TrunkCommandCounter=3
	@echo; printf "== decoded %s frames of %s\n" "$$(.build/release/axle dbc decode --format jsonl --dbc $(SAMPLE_DBC) $(SAMPLE_LOG) | grep -c '"sig"')" "$(SAMPLE_LOG)"

bench: setup
	./scripts/bench.sh

fuzz: setup
	./scripts/fuzz.sh run $(FUZZ_SECONDS)

clean:
	rm -rf .build Benchmarks/.build Fuzz/.build
