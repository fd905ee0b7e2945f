# listgate — a newcomer needs two commands: `make run` and `make test`.
# Both install the Debian packages they need (as root, or through sudo) before building.

SHELL := /bin/bash
SWIFT ?= swift
DB ?= ./listgate.sqlite3
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

RUN_PACKAGES := libsqlite3-dev libcurl4-openssl-dev pkg-config
# The mail tests talk to a real SMTP server (aiosmtpd); some tests inspect files with sqlite3.
TEST_PACKAGES := $(RUN_PACKAGES) python3-aiosmtpd sqlite3

# Installs only what is missing, so a second run makes no network call.
define apt_install
	@missing=""; for p in $(1); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing; \
	fi
endef

.PHONY: run test build deps test-deps clean bench fuzz

deps:
	$(call apt_install,$(RUN_PACKAGES))

test-deps:
	$(call apt_install,$(TEST_PACKAGES))

build: deps
	$(SWIFT) build

## make run: build, migrate ./listgate.sqlite3 and serve on http://127.0.0.1:8080
run: build
	.build/debug/listgate migrate --db $(DB)
	.build/debug/listgate serve --db $(DB) --demo

## make test: build everything and run every test (Swift Testing)
test: test-deps
	$(SWIFT) build --build-tests
	$(SWIFT) test --skip-build --disable-xctest

clean:
	rm -rf .build Fuzz/.build

## make fuzz: libFuzzer + AddressSanitizer on each target in Fuzz/ for FUZZ_SECONDS seconds.
## Seeds: Fuzz/Corpus/<target>/ (committed); what the fuzzer learns and any crashing
## input go to Fuzz/.build/fuzz/<target>/. A crash stops the run with a non-zero status.
FUZZ_SECONDS ?= 60
FUZZ_TARGETS ?= FuzzAddress FuzzForm FuzzMIME
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
	$(call apt_install,wrk curl)
	$(SWIFT) build -c release --product MailBenchmark
	$(SWIFT) build -c release --product listgate
	bench/mail.sh
	bench/forms.sh
