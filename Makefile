# mmatrix — `make run` sets up everything and runs the default kernels; `make test` runs
# the unit tests and an integration test that boots real kernels in QEMU.

# Debian/Ubuntu packages the runner uses on the host.
APT_PACKAGES := qemu-system-x86 busybox-static dropbear-bin cpio kmod xz-utils zstd binutils squashfs-tools patch \
	e2fsprogs debian-archive-keyring apt dpkg tar python3 make g++
# The tests also open matrix.html in a real headless browser; the benchmark runs virtme-ng.
# The kselftest integration test builds selftests statically from a kernel tree.
TEST_APT_PACKAGES := chromium gcc make libc6-dev
BENCH_APT_PACKAGES := python3-argcomplete python3-requests
# Building kernels from source (`-k src:`): the kernel's own build dependencies.
SRC_APT_PACKAGES := gcc make flex bison bc libelf-dev libssl-dev git
# node-gyp builds against the system's node headers when it has them, else fetches them.
NODEDIR := $(if $(wildcard /usr/include/node/node_api.h),--nodedir=/usr,)
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)
ADDON := guest/addon/build/Release/mm.node
ARGS ?=

.PHONY: all deps build lint format run test test-unit test-integration test-patch-gate test-bisect bench clean
all: build

deps: node_modules
	@missing=$$(for p in $(APT_PACKAGES) $(EXTRA_APT); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "installing: $$missing"; \
	  $(SUDO) apt-get update -q && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q --no-install-recommends $$missing; \
	fi

node_modules: package.json package-lock.json
	npm ci --no-audit --no-fund
	@touch node_modules

$(ADDON): guest/addon/mm.c guest/addon/guard.c guest/addon/guard.h guest/addon/binding.gyp | node_modules
	npx node-gyp rebuild $(NODEDIR) --directory=guest/addon --silent

build: deps $(ADDON)
	npx tsc -p tsconfig.json
	@chmod +x dist/runner/cli.js

# The layering and cycle check (.dependency-cruiser.cjs), then the linter and formatter (biome.json).
lint: node_modules
	npx depcruise common guest suites images reports runner test
	npx biome ci .

format: node_modules
	npx biome check --write .

run: build
	node dist/runner/cli.js run $(ARGS)

# Tests run with a temporary folder of their own: removed when they pass, kept (and named) when
# they fail, so repeated runs leave nothing behind and a failure leaves its evidence.
define in_scratch
	@tmp=$$(mktemp -d "$${TMPDIR:-/tmp}/mmatrix-test-XXXXXX"); \
	TMPDIR=$$tmp $(1); rc=$$?; \
	if [ $$rc -eq 0 ]; then rm -rf "$$tmp"; else echo "the tests' temporary files are kept in $$tmp"; fi; \
	exit $$rc
endef
# ava's timeout is how long a test run may go without a test finishing: a guard against a hung
# test, not a measure. With both cores loaded, cli.test.js's processes took 46.6 s to finish
# together, so 60 s was too tight for a slow machine.
UNIT = npx ava --timeout=5m 'dist/test/unit/**/*.test.js'
INTEGRATION = npx ava --timeout=20m --serial 'dist/test/integration/**/*.test.js'

test: EXTRA_APT = $(TEST_APT_PACKAGES)
test: build lint
	$(call in_scratch,$(UNIT))
	$(call in_scratch,$(INTEGRATION))

test-unit: build lint
	$(call in_scratch,$(UNIT))

test-integration: EXTRA_APT = $(TEST_APT_PACKAGES)
test-integration: build
	$(call in_scratch,$(INTEGRATION))

# Opt-in: builds Debian's 6.1 source with src: twice, as it is and with a patch that changes
# one semantic, and checks that the gate flags exactly that cell (half an hour on two cores).
test-patch-gate: EXTRA_APT = $(SRC_APT_PACKAGES)
test-patch-gate: build
	npx ava --timeout=120m 'dist/test/patchgate/*.test.js'

# Opt-in: a nine-revision git history from Debian's 6.1 source, one commit of which changes one
# semantic; `mmatrix bisect` must name it in at most ⌈log2 9⌉ + 1 builds (about 15 minutes cold).
test-bisect: EXTRA_APT = $(SRC_APT_PACKAGES)
test-bisect: build
	npx ava --timeout=120m 'dist/test/bisect/*.test.js'

clean:
	rm -rf dist guest/addon/build

bench: EXTRA_APT = $(BENCH_APT_PACKAGES)
bench: build
	node dist/runner/cli.js bench --populate $(ARGS)
