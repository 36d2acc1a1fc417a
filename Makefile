# purchases: every day-to-day command. See README.md.
#
#   make run    install what is missing, build the optimised server, start PostgreSQL and
#               FerretDB, seed demo data, serve on 127.0.0.1:8080
#   make cluster  the same engine, PURCHASES_INSTANCES (default 3) optimised servers behind
#               HAProxy on 127.0.0.1:8080, one Redis; scripts/cluster.sh status|restart
#   make test   install what is missing, build with ASan+UBSan, run the whole Check suite
#   make build  the sanitizer build in build/ (what test uses)
#   make release  an optimised build in build-release/
#   make bench    load 1,060,000 purchases into FerretDB on PostgreSQL, measure with wrk
#   make fuzz     libFuzzer on every parser of caller input (FUZZ_SECONDS each, default 60)
#   make install  the optimised build into PREFIX (default /usr/local; DESTDIR works)
#   make format   clang-format every C file in place

BUILD_DIR   ?= build
RELEASE_DIR ?= build-release
PREFIX      ?= /usr/local
JOBS        ?= 2
C_SOURCES    = $(shell git ls-files '*.c' '*.h' 2>/dev/null || find app middleware models routes tests -name '*.[ch]')

.PHONY: all deps build release release-configure install run cluster test unit integration bench fuzz format format-check clean

all: build

deps:
	@scripts/deps.sh

$(BUILD_DIR)/CMakeCache.txt:
	cmake -S . -B $(BUILD_DIR) -DCMAKE_BUILD_TYPE=Debug -DPURCHASES_SANITIZE=ON

build: deps $(BUILD_DIR)/CMakeCache.txt
	cmake --build $(BUILD_DIR) -j$(JOBS)

release-configure: deps
	cmake -S . -B $(RELEASE_DIR) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPURCHASES_SANITIZE=OFF -DPURCHASES_TESTS=OFF \
	  -DCMAKE_INSTALL_PREFIX=$(PREFIX)

release: release-configure
	cmake --build $(RELEASE_DIR) -j$(JOBS)

install: release
	cmake --install $(RELEASE_DIR) --prefix $(PREFIX)

# What a user would deploy, and only the two programs run.sh starts.
run: release-configure
	cmake --build $(RELEASE_DIR) -j$(JOBS) --target purchases purchases-seed purchases-migrate \
	  purchases-events
	@BUILD_DIR=$(RELEASE_DIR) scripts/run.sh

# Several of the same behind HAProxy, supervised (docs/cluster.md).
cluster: release-configure
	cmake --build $(RELEASE_DIR) -j$(JOBS) --target purchases purchases-seed purchases-migrate
	@BUILD_DIR=$(RELEASE_DIR) scripts/cluster.sh run

test: build format-check
	@scripts/test.sh $(BUILD_DIR)

bench: release
	@scripts/bench.sh

fuzz: deps
	@scripts/fuzz.sh

unit: build
	@scripts/test.sh $(BUILD_DIR) unit

integration: build
	@scripts/test.sh $(BUILD_DIR) integration

format:
	clang-format -i $(C_SOURCES)

format-check:
	@clang-format --dry-run -Werror $(C_SOURCES) && echo "format: clean"

clean:
	rm -rf $(BUILD_DIR) $(RELEASE_DIR)
