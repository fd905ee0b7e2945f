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

.PHONY: run test build deps test-deps clean bench

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
	rm -rf .build

## make bench: release build, then every benchmark; figures are ratios against a reference in the same run
bench: test-deps
	$(call apt_install,wrk curl time)
	$(SWIFT) build -c release --product MailBenchmark
	$(SWIFT) build -c release --product listgate
	bench/mail.sh
	bench/forms.sh
	bench/data.sh
