# Shipyard: `make help` lists every target.
SHELL := bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help
.DELETE_ON_ERROR:
MAKEFLAGS += --warn-undefined-variables --no-builtin-rules

STACK   ?= local
MODULE  := github.com/shipyard-kit/shipyard
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT  ?= $(shell git rev-parse HEAD 2>/dev/null || echo unknown)
LDFLAGS := -s -w -X $(MODULE)/app/internal/buildinfo.Version=$(VERSION) -X $(MODULE)/app/internal/buildinfo.Commit=$(COMMIT)
GO      ?= go
BIN     := bin
# The Docker client: Debian's docker.io client when present (it matches the
# engine that .ci/run installs), else whatever is on PATH.
DOCKER  ?= $(shell test -x /usr/bin/docker && echo /usr/bin/docker || echo docker)
SHIPYARD := $(GO) run ./cmd/shipyard

##@ Build

.PHONY: build
build: ## Build the app binary for this machine into bin/app
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/app ./app

.PHONY: build-linux
build-linux: ## Build the static linux/amd64 binary the image copies in
	CGO_ENABLED=0 GOOS=linux GOARCH=amd64 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/linux-amd64/app ./app

##@ Test

.PHONY: test
test: ## Run every test: unit, infra under mocks, and the local stack end to end
	$(GO) test ./...

.PHONY: lint
lint: ## gofmt, go vet (and golangci-lint / govulncheck when installed)
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

##@ Stacks

.PHONY: env
env: ## Print the app's env for STACK in .env form
	@$(SHIPYARD) env $(STACK)

.PHONY: validate
validate: ## Validate every config/<stack>.json
	$(SHIPYARD) validate

.PHONY: config-docs
config-docs: ## Regenerate docs/config.md from config/schema.json
	$(SHIPYARD) config-docs > docs/config.md.tmp && mv docs/config.md.tmp docs/config.md

##@ Help

.PHONY: help
help: ## Show this help
	@awk 'BEGIN {FS = ":.*##"} /^[a-zA-Z0-9_-]+:.*##/ { printf "  \033[36m%-16s\033[0m %s\n", $$1, $$2 } /^##@/ { printf "\n\033[1m%s\033[0m\n", substr($$0, 5) }' $(MAKEFILE_LIST)
