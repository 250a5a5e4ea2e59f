# SkyDNS build, test and run. `make help` lists the targets.

GO          ?= go
PROGRAMS    := skydns skydns-kubeapi skydns-scanner skydns-schedule skydns-apicmd
VERSION     ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS     := -s -w -X github.com/skydns/skydns/internal/version.Version=$(VERSION)
TOOLS       := $(CURDIR)/.tools
STATICCHECK_VERSION := v0.8.2
STATICCHECK := $(TOOLS)/staticcheck-$(STATICCHECK_VERSION)
# Packages whose tests run without the race detector as well as with it is
# wasted time on two cores: everything runs once, under -race.
TESTFLAGS   ?= -race -count=1 -timeout 20m

.PHONY: all build test lint vet fmt run bench install clean help chaos FORCE

all: build

help:
	@echo "make build   the five programs in bin/"
	@echo "make test    go vet and every test (race detector on)"
	@echo "make lint    gofmt, go vet, staticcheck $(STATICCHECK_VERSION)"
	@echo "make run     a local stack on an embedded etcd"
	@echo "make bench   Go benchmarks of the hot paths"
	@echo "make chaos   the fault-injection suite, 10 minutes (docs/reliability.md)"
	@echo "make install binaries, configs, systemd units (DESTDIR, PREFIX; docs/install.md)"
	@echo "make clean   remove build output"

build: $(PROGRAMS:%=bin/%)

# Static binaries: no cgo, so they run on any Linux host the operator has.
bin/%: FORCE
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $@ ./$*

# The end-to-end tests against a real kube-apiserver and a real ExternalDNS
# need their binaries; they are built from the module proxy once and cached
# outside the clone (scripts/kube-apiserver, scripts/external-dns). Building
# them here keeps a cold build out of the tests' own timeout. The console's
# browser test needs Debian's chromium: scripts/chromium installs it (as
# root, with apt) when it is missing, and under CI=true the test fails
# without it rather than skip.
test: vet
	./scripts/chromium/install.sh
	./scripts/kube-apiserver/build.sh >/dev/null
	./scripts/external-dns/build.sh >/dev/null
	$(GO) test $(TESTFLAGS) ./...

vet:
	$(GO) vet ./...

fmt:
	gofmt -w $$(git ls-files '*.go')

lint: vet $(STATICCHECK)
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(STATICCHECK) ./...

$(STATICCHECK):
	mkdir -p $(TOOLS)
	GOBIN=$(TOOLS) $(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)
	mv $(TOOLS)/staticcheck $@

# The stack runs as its own binary so that Ctrl-C reaches it, not `go run`.
run: build
	$(GO) build -o bin/localstack ./scripts/localstack
	./bin/localstack $(ARGS)

# DESTDIR, PREFIX and the other variables of scripts/install.sh pass through
# the environment: `make install DESTDIR=/tmp/root`.
install: build
	DESTDIR='$(DESTDIR)' PREFIX='$(PREFIX)' ./scripts/install.sh

# The fault-injection suite's full run: a 3-member etcd cluster and the
# whole stack on loopback, faults for 7 minutes, then the report table.
# CHAOS_SEED=n replays a fault schedule; logs and the report stay in
# .run/chaos. A short run is part of `make test`.
chaos:
	CHAOS_FULL=1 CHAOS_DIR=$(CURDIR)/.run/chaos $(GO) test -count=1 -timeout 12m -v -run '^TestChaosFull$$' ./e2e/chaos/

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...

clean:
	rm -rf bin .run

FORCE:
