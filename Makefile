# listgate — a newcomer needs two commands: `make run` and `make test`.
# Both install the Debian packages they need (as root, or through sudo) before building.

SHELL := /bin/bash
SWIFT ?= swift
DB ?= ./listgate.sqlite3
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

RUN_PACKAGES := libsqlite3-dev libcurl4-openssl-dev pkg-config
# The mail tests talk to a real SMTP server (aiosmtpd); some tests inspect files with sqlite3;
# the OpenAPI test reads openapi.yaml with python3-yaml; the reverse-proxy test runs the
# nginx site of deploy/ in front of listgate, with a certificate made by openssl, and talks
# to it with curl. The PostgreSQL store is tested against Debian's PostgreSQL 15, in a
# private cluster that Tests/postgres.sh starts on a free loopback port for the run and
# deletes afterwards (the 15/main cluster the package makes is never used: it may not
# even start without systemd); the schema checks also use its dblink.
TEST_PACKAGES := $(RUN_PACKAGES) python3-aiosmtpd python3-yaml sqlite3 nginx openssl curl postgresql
# The browser end to end drives Debian's Chromium through chromedriver with Debian's
# python3-selenium (run by /usr/bin/python3, which also has aiosmtpd); the CJK fonts make the
# Japanese pages render (and the screenshots show text, not boxes).
BROWSER_PACKAGES := chromium chromium-driver python3-selenium fonts-noto-cjk
# The API sweep runs schemathesis, from PyPI, pinned, in a venv of Debian's python3.
SCHEMATHESIS_VERSION := 4.32.5
E2E_VENV := .venv-e2e

# Installs only what is missing, so a second run makes no network call.
define apt_install
	@missing=""; for p in $(1); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing; \
	fi
endef

.PHONY: run test build deps test-deps browser-deps e2e-deps e2e clean bench fuzz release

deps:
	$(call apt_install,$(RUN_PACKAGES))

test-deps:
	$(call apt_install,$(TEST_PACKAGES))

browser-deps: test-deps
	$(call apt_install,$(BROWSER_PACKAGES))

e2e-deps: browser-deps
	$(call apt_install,python3-venv)
	@$(E2E_VENV)/bin/schemathesis --version 2>/dev/null | grep -qF "$(SCHEMATHESIS_VERSION)" || { \
	  echo "installing schemathesis $(SCHEMATHESIS_VERSION) from PyPI into $(E2E_VENV)/"; \
	  /usr/bin/python3 -m venv $(E2E_VENV) && \
	  $(E2E_VENV)/bin/pip install -q "schemathesis==$(SCHEMATHESIS_VERSION)"; }

build: deps
	$(SWIFT) build

## make run: build, migrate ./listgate.sqlite3 and serve on http://127.0.0.1:8080
run: build
	.build/debug/listgate migrate --db $(DB)
	.build/debug/listgate serve --db $(DB) --demo

## make test: build everything and run every test (Swift Testing), then the browser end to end.
## One test at a time: many tests run the binary and measure answer times, connection
## floods and deadlines, which a neighbouring test's load would otherwise distort (~3 min).
## The PostgreSQL schema is checked with psql first; the Swift tests run beside a private
## PostgreSQL (LISTGATE_TEST_POSTGRES_URL), so its tests never skip here.
test: test-deps browser-deps
	$(SWIFT) build --build-tests
	Tests/postgres.sh run -- Tests/postgres/check_schema.sh
	Tests/postgres.sh run -- $(SWIFT) test --skip-build --disable-xctest --no-parallel
	@if command -v chromium >/dev/null && command -v chromedriver >/dev/null; then \
	  /usr/bin/python3 Tests/E2E/browser_e2e.py; \
	else echo "browser e2e skipped: chromium or chromedriver is missing (make browser-deps)"; fi

## make e2e: a headless Chromium subscribes and unsubscribes (screenshots to docs/screenshots/),
## then schemathesis sweeps openapi.yaml against a running server (no 5xx, answers as documented)
e2e: e2e-deps
	$(SWIFT) build
	/usr/bin/python3 Tests/E2E/browser_e2e.py --screenshots docs/screenshots
	/usr/bin/python3 Tests/E2E/api_fuzz.py

clean:
	rm -rf .build Fuzz/.build dist

## make release: the optimised binary, with the Swift runtime linked in (the server needs
## only Debian's libsqlite3-0 and libcurl4), and the resource folders it reads at run time
## (migrations, pages, mail) beside it, in dist/listgate/ — what goes to /opt/listgate
## (README, "Deploy").
release: deps
	$(SWIFT) build -c release --static-swift-stdlib --product listgate
	rm -rf dist/listgate && mkdir -p dist/listgate
	cp .build/release/listgate dist/listgate/
	for bundle in .build/release/*.resources; do \
	  case $$bundle in *TestSupport*) ;; *) cp -R $$bundle dist/listgate/ ;; esac; \
	done
	cp -R README.md deploy dist/listgate/
	@echo "built dist/listgate/: copy it to /opt/listgate (README, \"Deploy\")"

## make fuzz: libFuzzer + AddressSanitizer on each target in Fuzz/ for FUZZ_SECONDS seconds.
## Seeds: Fuzz/Corpus/<target>/ (committed); what the fuzzer learns and any crashing
## input go to Fuzz/.build/fuzz/<target>/. A crash stops the run with a non-zero status.
FUZZ_SECONDS ?= 60
FUZZ_TARGETS ?= FuzzAddress FuzzForm FuzzMIME FuzzCSV FuzzPreflight
fuzz: deps
	set -o pipefail; $(SWIFT) build --package-path Fuzz --scratch-path Fuzz/.build -c debug \
	  -Xswiftc -sanitize=fuzzer,address 2>&1 | grep -v "Cannot export local symbol"
	@for target in $(FUZZ_TARGETS); do \
	  work=Fuzz/.build/fuzz/$$target; mkdir -p $$work/corpus $$work/crashes; \
	  echo "== $$target: $(FUZZ_SECONDS) s"; \
	  SWIFT_BACKTRACE=enable=no Fuzz/.build/debug/$$target $$work/corpus Fuzz/Corpus/$$target \
	    -max_total_time=$(FUZZ_SECONDS) -artifact_prefix=$$work/crashes/ -print_final_stats=1 2>&1 \
	    | grep -E "^(#[0-9]+ +DONE|Done|stat::number_of_executed_units|==[0-9]+==|SUMMARY|artifact_prefix)|Fatal error|ERROR" ; \
	  status=$${PIPESTATUS[0]}; \
	  if [ $$status -ne 0 ]; then echo "$$target failed (status $$status); a crashing input is kept in $$work/crashes/"; exit 1; fi; \
	done

## make bench: release build, then every benchmark; figures are ratios against a reference in the same run
bench: test-deps
	$(call apt_install,wrk curl bc time)
	$(SWIFT) build -c release --product MailBenchmark
	$(SWIFT) build -c release --product IntakeBenchmark
	$(SWIFT) build -c release --product PreflightBenchmark
	$(SWIFT) build -c release --product listgate
	bench/report.sh
