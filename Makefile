# hidden-bottleneck — one Makefile for every module of the workspace.
#
# `go test ./...` at a workspace root without a root module matches nothing,
# so targets walk the modules listed in go.work.

SHELL   := /bin/bash
GO      ?= go
MODULES := $(shell $(GO) work edit -json | sed -n 's/.*"DiskPath": "\(.*\)".*/\1/p')
SERVICES := producer workers vendor-mock consumer
BIN     := $(CURDIR)/bin
# Tests that start processes (e2e, bottleneck) use these binaries.
export HB_BIN_DIR := $(BIN)
TESTFLAGS ?=

.PHONY: all build jaeger docker-compose compose-plugin standins test test-compose test-short lint generate tidy clean bench

all: lint test

## build: every service binary and the bottleneck CLI into bin/
build:
	@mkdir -p $(BIN)
	@for s in $(SERVICES); do \
		echo "go build -o bin/$$s ./services/$$s"; \
		$(GO) build -o $(BIN)/$$s ./services/$$s || exit 1; \
	done
	$(GO) build -o $(BIN)/bottleneck ./cmd/bottleneck

## jaeger: Jaeger 2.13.0 (Go module v1.76.0) from its own tool module; ~3-5 min cold
jaeger: $(BIN)/jaeger
$(BIN)/jaeger: deploy/jaeger/go.mod deploy/jaeger/go.sum
	@mkdir -p $(BIN)
	cd deploy/jaeger && GOWORK=off $(GO) build -o $(BIN)/jaeger github.com/jaegertracing/jaeger/cmd/jaeger

## docker-compose: Compose v2 from its own tool module (deploy/compose); ~2-3 min cold
# The version is the one deploy/compose/go.mod pins; `docker compose version`
# shows it and Compose labels its containers with it.
COMPOSE_VERSION = $(shell sed -n 's/^[[:space:]]*github.com\/docker\/compose\/v2 \(v[^ ]*\).*/\1/p' deploy/compose/go.mod)
docker-compose: $(BIN)/docker-compose
$(BIN)/docker-compose: deploy/compose/go.mod deploy/compose/go.sum
	@mkdir -p $(BIN)
	cd deploy/compose && GOWORK=off $(GO) build -trimpath \
		-ldflags "-s -w -X github.com/docker/compose/v2/internal.Version=$(COMPOSE_VERSION)" \
		-o $(BIN)/docker-compose github.com/docker/compose/v2/cmd

## compose-plugin: install bin/docker-compose as the docker CLI's compose plugin
compose-plugin: $(BIN)/docker-compose
	install -D -m 0755 $(BIN)/docker-compose "$${DOCKER_CONFIG:-$$HOME/.docker}/cli-plugins/docker-compose"
	docker compose version

## standins: local stand-ins for the base images, for machines without a registry (deploy/standins)
standins: $(BIN)/jaeger
	deploy/standins/build.sh

## test-compose: only the `docker compose up` test (needs a Docker engine; see deploy/composetest)
test-compose:
	cd deploy/composetest && $(GO) test -count=1 -timeout=30m -v $(TESTFLAGS) ./...

## test: every module's tests, end-to-end ones included (they need build + jaeger)
# The compose test builds five images first: a cold build on a busy
# 2-core machine can take most of go test's default 10 minutes.
test: build jaeger
	@set -e; for m in $(MODULES); do \
		echo "== go test $$m"; \
		timeout=; case $$m in */deploy/composetest) timeout=-timeout=30m;; esac; \
		(cd $$m && $(GO) test -count=1 $$timeout $(TESTFLAGS) ./...); \
	done

## test-short: unit tests only, no processes, no Jaeger
test-short:
	@set -e; for m in $(MODULES); do \
		(cd $$m && $(GO) test -short -count=1 $(TESTFLAGS) ./...); \
	done

## bench: the benchmarks of every module (compare runs with benchstat)
bench:
	@set -e; for m in $(MODULES); do \
		(cd $$m && $(GO) test -run '^$$' -bench . -benchmem ./...); \
	done

## lint: go vet and gofmt on every module; fails on findings
lint:
	@set -e; for m in $(MODULES); do (cd $$m && $(GO) vet ./...); done
	@out=$$(gofmt -l $(MODULES) tools deploy/jaeger); \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

## generate: regenerate pkg/api from proto/ with buf (a Go tool in tools/)
generate:
	cd tools && GOWORK=off $(GO) tool buf lint ../proto
	cd tools && GOWORK=off $(GO) tool buf generate ../proto --template ../proto/buf.gen.yaml

tidy:
	@for m in $(MODULES); do (cd $$m && $(GO) mod tidy); done

clean:
	rm -rf $(BIN)
