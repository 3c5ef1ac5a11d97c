# The two commands in the README: `make demo` (main job) and `make test` (all tests).
GO      ?= go
BIN     := $(CURDIR)/bin
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
# DefaultToolsDir lets bin/kube build the sandbox from any working directory.
LDFLAGS := -X github.com/kube-idp/kube/internal/version.Version=$(VERSION) \
           -X github.com/kube-idp/kube/internal/sandbox.DefaultToolsDir=$(CURDIR)/hack/tools
GOFILES  = $(shell find . -name '*.go' -not -path './.git/*')
# The Go modules with code of ours besides the main one: servicex is its own
# module (services import it without kube's dependencies), and so is the
# example service that proves it. hack/test.sh tests the same list.
export MODULES := servicex examples/orders

.PHONY: all build test unit lint demo bench clean generate fuzz cross cross-build
CONTROLLER_GEN = $(GO) tool -modfile=$(CURDIR)/hack/codegen/go.mod controller-gen

all: build

## build: compile kube and kube-controller into bin/
build:
	$(GO) build -ldflags '$(LDFLAGS)' -o $(BIN)/ ./cmd/...

## generate: the API's deep copies, and into config/install the CRDs and kube-controller's
## ClusterRole (from the +kubebuilder:rbac markers); a test checks they are current
generate:
	$(CONTROLLER_GEN) object paths=./api/...
	$(CONTROLLER_GEN) crd paths=./api/... output:crd:artifacts:config=config/install
	$(CONTROLLER_GEN) rbac:roleName=kube-controller paths=./internal/controller/... output:rbac:artifacts:config=config/install

## lint: gofmt and go vet, in every module
lint:
	@out=$$(gofmt -l $(GOFILES)); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	@for m in $(MODULES); do (cd $$m && echo "go vet ($$m)" && GOWORK=off $(GO) vet ./...) || exit 1; done

## demo: the developer flow on the local sandbox: start it (building it the first time), check the
## examples' generated manifests, deploy one, show its status; check the orders example's alert
## rule tests and deploy it with its SLOs and alerts
demo: build
	$(BIN)/kube sandbox up
	$(BIN)/kube version
	$(BIN)/kube generate examples/billing examples/storefront examples/orders
	cd examples/billing && $(BIN)/kube deploy -c local --yes --timeout 2m
	cd examples/billing && $(BIN)/kube status -c local
	cd examples/orders && $(BIN)/kube alerts lint
	cd examples/orders && $(BIN)/kube deploy -c local --yes --timeout 2m
	BIN=$(BIN) hack/demo-fork.sh
	@echo
	@echo "Next: bin/kube sandbox status, bin/kube sandbox down. Docs: docs/sandbox.md, docs/generate.md, docs/deploy.md, docs/fork.md, docs/servicex.md"

## test: lint, the cross-builds, then unit and end-to-end tests against the sandbox;
## prints each step's time and a summary line (hack/test.sh runs lint, cross and build)
test:
	KUBE=$(BIN)/kube hack/test.sh

## cross: kube, servicex and the example service for macOS and Windows. A cross build
## compiles every dependency again (about 8 cold minutes a platform on 2 cores), so make
## test type-checks instead: hack/typecheck loads each package and all its dependencies
## from source for the platform, with CGO_ENABLED=0, and runs go vet's analyzers on the
## named ones, tests included (about 2 cold minutes for both, 1 warm). `make cross-build` compiles for real
## (release builds, or to check what only a compiler's back end could find).
CROSS ?= darwin/arm64 windows/amd64
cross:
	@$(GO) build -o $(BIN)/typecheck ./hack/typecheck
	@for p in $(CROSS); do \
	  GOOS=$${p%/*} GOARCH=$${p#*/} $(BIN)/typecheck ./cmd/kube ./internal/cli ./internal/sandbox || exit 1; \
	  for m in $(MODULES); do (cd $$m && GOWORK=off GOOS=$${p%/*} GOARCH=$${p#*/} $(BIN)/typecheck ./...) || exit 1; done; \
	done

cross-build:
	@for p in $(CROSS); do \
	  GOOS=$${p%/*} GOARCH=$${p#*/} CGO_ENABLED=0 $(GO) build -o /dev/null ./cmd/... || exit 1; \
	  for m in $(MODULES); do (cd $$m && GOWORK=off GOOS=$${p%/*} GOARCH=$${p#*/} CGO_ENABLED=0 $(GO) build -o /dev/null ./...) || exit 1; done; \
	  echo "kube, kube-controller, servicex and the example service build for $$p"; \
	done

## unit: only the tests that need no cluster
unit:
	$(GO) test -short ./...
	@for m in $(MODULES); do (cd $$m && GOWORK=off $(GO) test -short ./...) || exit 1; done

## fuzz: every fuzz target for FUZZTIME each (default 1m), reporting execs
fuzz:
	FUZZTIME=$${FUZZTIME:-1m} hack/fuzz.sh | $(GO) run ./hack/testsummary

## bench: the sandbox (build, start, memory), kube generate on a fleet next to helm and kustomize,
## kube deploy next to kubectl and helm, kube-controller's fork and CronJob notifier loads,
## servicex's cost per request over net/http; kube infra on a generated monorepo, next to conftest
bench: build
	KUBE=$(BIN)/kube bench/sandbox.sh
	KUBE=$(BIN)/kube bench/generate.sh
	KUBE=$(BIN)/kube bench/deploy.sh
	KUBE=$(BIN)/kube bench/fork.sh
	KUBE=$(BIN)/kube bench/cronjob.sh
	KUBE=$(BIN)/kube bench/infra.sh
	bench/servicex.sh

clean:
	rm -rf $(BIN)
