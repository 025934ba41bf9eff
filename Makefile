# Shipyard: `make help` lists every target.
SHELL := bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help
.DELETE_ON_ERROR:
MAKEFLAGS += --warn-undefined-variables --no-builtin-rules

STACK   ?= local
MODULE  := github.com/shipyard-kit/shipyard
# The version stamped into the binary: -dirty only when what the binary is
# built from (app/, go.mod, go.sum) differs from the commit, so editing a
# stack's config never rebuilds the image (and replaces every container).
VERSION ?= $(shell v=$$(git describe --tags --always 2>/dev/null) || v=dev; \
  [ -z "$$(git status --porcelain -- app go.mod go.sum 2>/dev/null)" ] || v=$$v-dirty; echo $$v)
COMMIT  ?= $(shell git rev-parse HEAD 2>/dev/null || echo unknown)
LDFLAGS := -s -w -X $(MODULE)/app/internal/buildinfo.Version=$(VERSION) -X $(MODULE)/app/internal/buildinfo.Commit=$(COMMIT)
GO      ?= go
BIN     := bin
# The Docker client: Debian's docker.io client when present (it matches the
# engine that .ci/run installs), else whatever is on PATH.
DOCKER  ?= $(shell test -x /usr/bin/docker && echo /usr/bin/docker || echo docker)
# The operator tool, rebuilt only when its sources changed (the first build
# on a cold Go cache takes minutes: it says so).
SHIPYARD := { test -x $(BIN)/shipyard || echo "==> compiling cmd/shipyard (first run: a few minutes on a cold Go module cache)" >&2; } && $(GO) build -o $(BIN)/shipyard ./cmd/shipyard && $(BIN)/shipyard
# The checks every stack target runs before anything slow (cmd/preflight:
# standard library only, seconds to build): the stack exists, and an aws
# stack's state is not a file on this machine (internal/preflight).
PREFLIGHT := $(GO) build -o $(BIN)/preflight ./cmd/preflight && $(BIN)/preflight

# Operator workflow (docs/operations.md). The Pulumi CLI is pinned to the
# version of github.com/pulumi/pulumi/sdk/v3 in go.mod, and its docker and
# random plugins to their SDKs' versions; `make tools` installs them (and
# crane, actionlint, gotestsum) into bin/, which comes first on PATH. This
# is the only pin: the workflows set no PULUMI_VERSION of their own, and
# read it with `make -s pulumi-version` where an action needs it.
PULUMI_VERSION     ?= 3.200.0
DOCKER_PLUGIN      ?= 4.10.0
RANDOM_PLUGIN      ?= 4.18.0
AWS_PLUGIN         ?= 6.83.0
CRANE_VERSION      ?= v0.20.3
ACTIONLINT_VERSION ?= v1.7.7
GOTESTSUM_VERSION  ?= v1.13.0
# An offline bundle of the pinned CLI and plugins (its install.sh), for
# machines without internet: `make tools` installs from it when set.
PULUMI_OFFLINE_DIR ?=
# installer (get.pulumi.com), source (a clone of pulumi/pulumi built with
# go), or auto (the installer when get.pulumi.com answers, else source).
PULUMI_INSTALL     ?= auto
TOOLS_BIN          := $(CURDIR)/$(BIN)
export PATH := $(TOOLS_BIN):$(PATH)
# State: docker stacks keep theirs in the repository (.pulumi-state,
# gitignored); aws stacks in the bucket `make bootstrap` creates
# (bootstrap.backendUrl in config/<stack>.json). PULUMI_BACKEND_URL, when
# set, wins. cmd/shipyard (internal/preflight) decides; `bin/preflight
# backend STACK` prints it.
export PULUMI_SKIP_UPDATE_CHECK := true
# The pulumi-aws plugin as Pulumi's release page names it, which `make
# tools STACK=<aws stack>` installs from PULUMI_OFFLINE_DIR when it is there.
PLUGIN_OS          = $(shell uname -s | tr A-Z a-z)
PLUGIN_ARCH        = $(shell uname -m | sed 's/x86_64/amd64/;s/aarch64/arm64/')
AWS_PLUGIN_ARCHIVE = pulumi-resource-aws-v$(AWS_PLUGIN)-$(PLUGIN_OS)-$(PLUGIN_ARCH).tar.gz
# Secrets passphrase: shipyard gives every docker stack the documented
# local one and aws stacks none (internal/preflight.Passphrase); a recipe
# that runs pulumi itself (make e2e) takes it from `bin/preflight
# passphrase STACK`, the same rule. aws stacks: export the team's, or use
# KMS (docs/operations.md).
FROM    ?=
TO      ?=
RELEASE ?=
CONFIRM ?=
PROCESS ?=
# make job: the scheduled job to run (app/internal/jobs.Scheduled; missing,
# shipyard names them).
NAME    ?=
# release and pr-up: a local image to run instead of the one `make image`
# builds for STACK (empty: build that one and run it).
IMAGE   ?=
FILE    ?=
FORMAT  ?= text
RELEASE_FOLLOWS ?=
FORCE   ?=
BASE    ?=
REGIONS ?=
OFFERS  ?=
PR      ?=
TTL     ?=

##@ Build

.PHONY: build
build: ## Build the app binary for this machine into bin/app
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/app ./app

.PHONY: build-linux
build-linux: ## Build the static linux/amd64 binary the image copies in
	CGO_ENABLED=0 GOOS=linux GOARCH=amd64 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/linux-amd64/app ./app

CA_BUNDLE ?= /etc/ssl/certs/ca-certificates.crt

# The app image is the one STACK's config names (bin/preflight image,
# internal/preflight.AppImage): on a docker stack
# <release.imageRepository>:local (default shipyard-app:local), the image
# the stack runs; on an aws stack shipyard-app:local, the local build that
# `make release` pushes to the ECR repository release.imageRepository names.
# The name and tag are checked first (image-args), then the app is built: a
# sub-make, not a second prerequisite, so the order holds under make -j.
.PHONY: image
image: image-args ## Build STACK's app image (docker: <release.imageRepository>:local, default shipyard-app:local; aws: shipyard-app:local, which release pushes), also tagged $(VERSION); FROM scratch, no registry needed
	@$(MAKE) --no-print-directory build-linux
	cp $(CA_BUNDLE) $(BIN)/ca-certificates.crt
	$(DOCKER) build -t $(shell $(PREFLIGHT) image $(STACK) $(VERSION)) -t $(shell $(PREFLIGHT) image $(STACK)) .

.PHONY: image-args
image-args: # image's STACK and VERSION (the image's name and tag), checked before the build
	@$(PREFLIGHT) image "$(STACK)" $(VERSION) >/dev/null

##@ Test

# The suite's own stack is made from the repository's config/local.json
# (tests/e2e copies config/): the images it needs are that stack's,
# whatever STACK is and whatever config directory SHIPYARD_CONFIG_DIR names.
.PHONY: test
test: pulumi-cli gotestsum ## Run every test: unit, infra under mocks, and a local stack of its own deployed with Pulumi (needs Docker)
	@$(MAKE) --no-print-directory test-images STACK=local SHIPYARD_CONFIG_DIR=$(CURDIR)/config
	@$(DOCKER) info >/dev/null 2>&1 || { echo "make test: the Docker engine is not reachable with $(DOCKER); start it (sudo systemctl start docker, or without an init system: nohup dockerd --storage-driver=vfs >/tmp/dockerd.log 2>&1 &) and retry" >&2; exit 1; }
	@echo "==> go test ./... (each test as it ends; the local stack's life is TestStack, a few minutes)"
	@unset SHIPYARD_CONFIG_DIR; status=0; DOCKER=$(DOCKER) $(BIN)/gotestsum --format testname --format-hide-empty-pkg --jsonfile $(BIN)/test.json -- -count=1 -timeout 45m ./... || status=$$?; \
	  echo "==> time per package (slowest first)"; \
	  sed -nE 's/.*"Action":"(pass|fail)","Package":"$(subst /,\/,$(MODULE))\/?([^"]*)","Elapsed":([0-9.]+)\}$$/  \3s \1 \2/p' $(BIN)/test.json | sort -rn | head -n 15; \
	  DOCKER=$(DOCKER) tests/cleanup.sh; exit $$status

.PHONY: test-images
test-images: ## Build, offline and cached, the images docker STACK's config names (default local: what the tests run): its app image and stand-ins of its local.images
	STACK=$(STACK) DOCKER=$(DOCKER) tests/images/build.sh

.PHONY: e2e
e2e: preflight ## Run the Terratest suite against the deployed STACK (`make up` first; outputs from `pulumi stack output`)
	pass=$$($(BIN)/preflight passphrase $(STACK)); if [ -n "$$pass" ]; then export PULUMI_CONFIG_PASSPHRASE=$$pass; fi; \
	PULUMI_BACKEND_URL=$$($(BIN)/preflight backend $(STACK)) STACK=$(STACK) E2E_OUTPUTS=pulumi DOCKER=$(DOCKER) $(GO) test -count=1 -v -timeout 30m -run TestStack ./tests/e2e

.PHONY: lint
lint: ## gofmt, go vet, go.mod tidy, the migration linter (and govulncheck / staticcheck / actionlint when installed, as CI installs them; golangci-lint when you have it)
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) mod tidy -diff
	@if command -v golangci-lint >/dev/null; then echo golangci-lint run; golangci-lint run ./...; else echo "golangci-lint: not installed, skipped"; fi
	@if command -v govulncheck >/dev/null; then echo govulncheck ./...; govulncheck ./...; else echo "govulncheck: not installed, skipped"; fi
	@if command -v staticcheck >/dev/null; then echo staticcheck ./...; staticcheck ./...; else echo "staticcheck: not installed, skipped"; fi
	@if command -v actionlint >/dev/null; then echo actionlint; actionlint; else echo "actionlint: not installed (make tools), skipped"; fi
	$(SHIPYARD) ledger --verify
	$(SHIPYARD) lint-migrations

##@ Stacks

.PHONY: preflight
preflight: # the checks every stack target runs first: STACK exists; an aws stack's state is not a file on this machine
	@$(PREFLIGHT) check "$(STACK)"

.PHONY: env
env: ## Print the app's env for STACK in .env form
	@$(SHIPYARD) env "$(STACK)"

.PHONY: validate
validate: ## Validate every config/<stack>.json
	$(SHIPYARD) validate

.PHONY: program
program: ## Build the Pulumi program (stacks/) into bin/shipyard-stacks, which Pulumi.yaml runs
	$(GO) build -o $(BIN)/shipyard-stacks ./stacks

.PHONY: up
up: up-args preflight pulumi-cli program ## Create or update STACK (default local: builds the image first); RELEASE_FOLLOWS=1 (aws): leave web's CodeDeploy redeploy to the `make release` run next
	@target=$$($(BIN)/preflight target $(STACK)); case "$$target" in docker) $(MAKE) --no-print-directory image;; aws) $(MAKE) --no-print-directory aws-plugin;; esac
	$(SHIPYARD) up $(STACK)$(if $(RELEASE_FOLLOWS), --release-follows=$(RELEASE_FOLLOWS))

.PHONY: up-args
up-args: # up's RELEASE_FOLLOWS, checked before any install or build
	@case "$(RELEASE_FOLLOWS)" in ""|1|0|true|false) ;; *) echo "make up: RELEASE_FOLLOWS=$(RELEASE_FOLLOWS): allowed 1, 0, true, false (1: leave web's CodeDeploy redeploy to the \`make release\` run next)" >&2; exit 2;; esac

.PHONY: preview
preview: preflight pulumi-cli program ## Show the diff `make up` would apply to STACK
	@target=$$($(BIN)/preflight target $(STACK)); case "$$target" in docker) $(MAKE) --no-print-directory image;; aws) $(MAKE) --no-print-directory aws-plugin;; esac
	$(SHIPYARD) preview $(STACK)

.PHONY: down
down: preflight pulumi-cli ## Remove a docker STACK's containers and network, keeping its data volumes for the next `make up`
	$(SHIPYARD) destroy $(STACK) --keep-data

.PHONY: destroy
destroy: destroy-args preflight pulumi-cli ## Delete STACK's resources, and a docker stack's data volumes (aws stacks need CONFIRM=<stack>; a CONFIRM naming another stack is refused)
	@target=$$($(BIN)/preflight target $(STACK)); case "$$target" in aws) $(MAKE) --no-print-directory aws-plugin;; esac
	$(SHIPYARD) destroy $(STACK) --confirm=$(CONFIRM)

.PHONY: destroy-args
destroy-args: # destroy's CONFIRM (internal/preflight.CheckConfirm, the rule shipyard destroy applies), checked before any install or build
	@$(PREFLIGHT) destroy "$(STACK)" "$(CONFIRM)"

.PHONY: cost
cost: ## Print aws STACK's monthly cost from its config and infra/cost/prices.json (FORMAT=json; BASE=<git ref>: the change since then)
	@$(SHIPYARD) cost "$(STACK)" --format=$(FORMAT) $(if $(BASE),--base=$(BASE))

.PHONY: cost-prices
cost-prices: ## Refresh infra/cost/prices.json from AWS's public Price List offer files (needs internet; REGIONS=a,b adds regions; OFFERS=<dir> reads saved files)
	$(SHIPYARD) cost-prices --file=infra/cost/prices.json $(if $(REGIONS),--regions=$(REGIONS)) $(if $(OFFERS),--offers=$(OFFERS))

.PHONY: drift
drift: preflight pulumi-cli ## Compare STACK's deployed resources with its state (refresh preview): a line per drift; fails on drift (bin/shipyard drift: exit 2) or error (1)
	@target=$$($(BIN)/preflight target $(STACK)); case "$$target" in aws) $(MAKE) --no-print-directory aws-plugin;; esac
	@$(SHIPYARD) drift $(STACK)

.PHONY: outputs
outputs: preflight pulumi-cli ## Print STACK's outputs as JSON, or one of them with KEY=<output> (e.g. KEY=tlsCaCert > local-ca.pem)
	@$(SHIPYARD) outputs $(STACK) $(KEY)

.PHONY: dashboard
dashboard: preflight pulumi-cli ## Print STACK's dashboard URL (aws: CloudWatch, the dashboardUrl output; docker: Prometheus) and open it in a browser (not in CI)
	@$(SHIPYARD) dashboard $(STACK)

.PHONY: traces
traces: preflight pulumi-cli ## Print STACK's trace UI URL (aws: X-Ray trace search in CloudWatch, the tracesUrl output; docker: Jaeger) and open it in a browser (not in CI)
	@$(SHIPYARD) traces $(STACK)

.PHONY: logs
logs: preflight pulumi-cli ## Follow STACK's logs (PROCESS=web, worker or clock to narrow, several space separated; docker stacks also nginx, migrate, postgres, redis and the monitoring containers; an unknown one is refused, naming those the stack has)
	$(SHIPYARD) logs $(STACK) $(PROCESS)

.PHONY: migrate
migrate: preflight pulumi-cli ## Run the one-off migrate process on STACK (docker container / ECS run-task)
	$(SHIPYARD) migrate $(STACK)

.PHONY: job
job: preflight pulumi-cli ## Run scheduled job NAME on STACK now, through the worker's queue, and wait for its outcome (docker exec / ECS run-task)
	$(SHIPYARD) job $(STACK) $(NAME)

.PHONY: jobs
jobs: preflight pulumi-cli ## List STACK's scheduled jobs: schedule, last run, last success, duration, next run (FORMAT=json for a JSON array)
	$(SHIPYARD) jobs $(STACK) $(if $(FORMAT),--format=$(FORMAT))

.PHONY: db-backup
db-backup: preflight pulumi-cli ## Dump a docker STACK's database (pg_dump custom format) into FILE (default backups/<stack>-<time>.dump)
	$(SHIPYARD) db-backup $(STACK) $(FILE)

.PHONY: db-restore
db-restore: preflight pulumi-cli ## Restore FILE (a db-backup dump) into a docker STACK's database, replacing its contents after a safety copy of them (backups/<stack>-pre-restore-<time>.dump)
	@test -n "$(FILE)" || { echo "usage: make db-restore FILE=backups/<stack>-<time>.dump [STACK=local]" >&2; exit 2; }
	$(SHIPYARD) db-restore $(STACK) $(FILE)

.PHONY: bootstrap
bootstrap: bootstrap-args pulumi-cli aws-plugin ## Once per AWS account and region, before the first `make up` of an aws STACK: state bucket, secrets key, GitHub OIDC roles; writes them into config/ (docs/operations.md); FORCE=1: also over sections naming another backend or other roles
	$(GO) build -o $(BIN)/shipyard-bootstrap ./bootstrap
	$(SHIPYARD) bootstrap $(STACK)$(if $(FORCE), --force=$(FORCE))

.PHONY: rekey
rekey: preflight pulumi-cli ## Re-encrypt aws STACK's secrets with its config's bootstrap.secretsProvider, once, when make bootstrap says so; then commit stacks/Pulumi.<stack>.yaml
	$(SHIPYARD) rekey $(STACK)

.PHONY: bootstrap-args
bootstrap-args: # bootstrap's STACK (an aws stack) and FORCE, checked before any install or build
	@case "$(FORCE)" in ""|1|0|true|false) ;; *) echo "make bootstrap: FORCE=$(FORCE): allowed 1, 0, true, false (1: overwrite bootstrap sections in config/ that name another backend or other roles)" >&2; exit 2;; esac
	@target=$$($(PREFLIGHT) target "$(STACK)"); [ "$$target" = aws ] || { echo "usage: make bootstrap STACK=<aws stack> (the account and region of its config); STACK=$(STACK) is a $$target stack; allowed: $$($(BIN)/preflight stacks --target=aws | paste -sd, - | sed 's/,/, /g')" >&2; exit 2; }

##@ PR environments (a pull request's app on STACK's shared infrastructure; docs/operations.md)

.PHONY: pr-up
pr-up: pr-args preflight pulumi-cli program ## Create or update PR=<n>'s environment on STACK (stack STACK-pr-<n>) and print its URL and reap time (IMAGE=<ref>: run that image)
	@target=$$($(BIN)/preflight target $(STACK)); case "$$target" in docker) [ -n "$(IMAGE)" ] || $(MAKE) --no-print-directory image;; aws) $(MAKE) --no-print-directory aws-plugin crane $(if $(IMAGE),,image);; esac
	$(SHIPYARD) pr-up $(STACK) $(PR)$(if $(IMAGE), --image=$(IMAGE))

.PHONY: pr-down
pr-down: pr-args preflight pulumi-cli program ## Drop PR=<n>'s database, user and Redis keys and destroy its environment on STACK
	@target=$$($(BIN)/preflight target $(STACK)); case "$$target" in aws) $(MAKE) --no-print-directory aws-plugin;; esac
	$(SHIPYARD) pr-down $(STACK) $(PR)

.PHONY: pr-reap
pr-reap: preflight pulumi-cli program ## Destroy STACK's PR environments not deployed within TTL (default previews.ttlHours; e.g. TTL=72h) or, with OPEN=<n,n,...> (the open PRs; OPEN=none: no PR is open), whose PR is closed
	@target=$$($(BIN)/preflight target $(STACK)); case "$$target" in aws) $(MAKE) --no-print-directory aws-plugin;; esac
	$(SHIPYARD) pr-reap $(STACK) $(if $(TTL),--ttl=$(TTL)) $(if $(filter undefined,$(origin OPEN)),,--open=$(OPEN))

.PHONY: pr-list
pr-list: preflight pulumi-cli ## List STACK's PR environments: slot, URL, last deploy, reap time
	$(SHIPYARD) pr-list $(STACK)

.PHONY: pr-args
pr-args: # the PR number (internal/preflight.ParsePR, the rule of shipyard's pr commands), checked before any install or build
	@$(PREFLIGHT) pr "$(PR)"

##@ Release (aws stacks: build once, promote by digest, roll back; docker stacks: release a local image progressively)

.PHONY: release
release: preflight pulumi-cli program build ## aws: build the image once, push it to STACK's ECR repo, deploy it by digest; docker: release IMAGE (any local image; default what make image builds) by deploy.strategy (docs/operations.md)
	@target=$$($(SHIPYARD) target $(STACK)); case "$$target" in aws) $(MAKE) --no-print-directory aws-plugin crane image;; docker) [ -n "$(IMAGE)" ] || $(MAKE) --no-print-directory image;; esac
	$(SHIPYARD) release $(STACK)$(if $(IMAGE), --image=$(IMAGE))

.PHONY: promote
promote: promote-args pulumi-cli aws-plugin crane program ## Deploy FROM's release to TO by digest (e.g. FROM=staging TO=prod)
	$(SHIPYARD) promote $(FROM) $(TO)

.PHONY: promote-args
promote-args: # promote's FROM and TO, two different aws stacks (internal/preflight.CheckPromote, which shipyard promote applies), and their backends, checked before any install or build
	@$(PREFLIGHT) promote "$(FROM)" "$(TO)"
	@$(PREFLIGHT) check $(FROM) $(TO)

.PHONY: rollback
rollback: preflight pulumi-cli aws-plugin crane program ## Re-deploy STACK's previous release (or RELEASE=<id> from the ledger)
	$(SHIPYARD) rollback $(STACK) $(RELEASE)

.PHONY: db-restore-drill
db-restore-drill: preflight pulumi-cli ## Restore STACK's latest RDS snapshot into a temporary instance, migrate and read it, report the time, delete it
	$(SHIPYARD) db-restore-drill $(STACK)

.PHONY: ledger
ledger: ## Print STACK's release ledger (releases/<stack>.jsonl)
	@$(SHIPYARD) ledger "$(STACK)"

##@ Tools

.PHONY: doctor
doctor: ## Check everything `make up` and `make test` need (and AWS credentials for aws stacks), one fix per problem
	@$(SHIPYARD) doctor $(STACK) --pulumi-version=$(PULUMI_VERSION) --plugins=docker:$(DOCKER_PLUGIN),random:$(RANDOM_PLUGIN),aws:$(AWS_PLUGIN) --aws-plugin-archive=$(AWS_PLUGIN_ARCHIVE)

.PHONY: tools
tools: pulumi-cli crane actionlint gotestsum ## Install the pinned Pulumi CLI and plugins, crane, actionlint and gotestsum into bin/ (STACK=<aws stack>: and the pulumi-aws plugin)
	@target=$$($(PREFLIGHT) target "$(STACK)"); if [ "$$target" = aws ]; then $(MAKE) --no-print-directory aws-plugin STACK=$(STACK); fi

.PHONY: pulumi-version
pulumi-version: # print PULUMI_VERSION, the one pin of the Pulumi CLI (`make -s pulumi-version`: what the workflows' pulumi/actions installs)
	@echo $(PULUMI_VERSION)

.PHONY: pulumi-cli
pulumi-cli: ## Install the pinned Pulumi CLI and its docker and random plugins when missing (PULUMI_OFFLINE_DIR: from a local bundle)
	@mkdir -p $(TOOLS_BIN)
	@# The plugin list is read whole before grep looks at it: `pulumi plugin ls |
	@# grep -q` under pipefail fails when grep exits first and pulumi dies of SIGPIPE.
	@plugins=$$(pulumi plugin ls 2>/dev/null || true); \
	if [ "$$(pulumi version 2>/dev/null)" = "v$(PULUMI_VERSION)" ] && grep -Eq "^docker +resource +$(DOCKER_PLUGIN) " <<<"$$plugins" \
	  && grep -Eq "^random +resource +$(RANDOM_PLUGIN) " <<<"$$plugins"; then exit 0; fi; \
	fail() { echo "make tools: could not install pulumi v$(PULUMI_VERSION) ($$1); either give this machine internet access (get.pulumi.com, github.com) or point PULUMI_OFFLINE_DIR at an offline bundle (docs/local.md#offline)" >&2; exit 1; }; \
	if [ -n "$(PULUMI_OFFLINE_DIR)" ]; then \
	  echo "installing pulumi v$(PULUMI_VERSION) and its plugins from $(PULUMI_OFFLINE_DIR)"; \
	  [ -f "$(PULUMI_OFFLINE_DIR)/install.sh" ] || fail "PULUMI_OFFLINE_DIR=$(PULUMI_OFFLINE_DIR) has no install.sh"; \
	  bash "$(PULUMI_OFFLINE_DIR)/install.sh" $(TOOLS_BIN) >/dev/null || fail "$(PULUMI_OFFLINE_DIR)/install.sh failed"; \
	else \
	  how=$(PULUMI_INSTALL); \
	  if [ "$$how" = auto ]; then how=source; curl -fsS --max-time 10 -o /dev/null https://get.pulumi.com && how=installer || true; fi; \
	  echo "installing pulumi v$(PULUMI_VERSION) ($$how)"; \
	  $(MAKE) --no-print-directory -s pulumi-$$how >/tmp/shipyard-pulumi-install.log 2>&1 || fail "the $$how install failed, log: /tmp/shipyard-pulumi-install.log"; \
	  for p in docker:$(DOCKER_PLUGIN) random:$(RANDOM_PLUGIN); do \
	    pulumi plugin install resource $${p%%:*} v$${p##*:} >>/tmp/shipyard-pulumi-install.log 2>&1 || fail "pulumi plugin install resource $${p%%:*} v$${p##*:} failed, log: /tmp/shipyard-pulumi-install.log"; \
	  done; \
	fi; \
	[ "$$(pulumi version 2>/dev/null)" = "v$(PULUMI_VERSION)" ] || fail "bin/pulumi is not v$(PULUMI_VERSION) after the install"; \
	echo "pulumi $$(pulumi version): installed in $(TOOLS_BIN)"

.PHONY: aws-plugin
aws-plugin: # the pulumi-aws plugin at go.mod's SDK version (aws stacks only: the local stack never loads it); from PULUMI_OFFLINE_DIR/$(AWS_PLUGIN_ARCHIVE) when there
	@plugins=$$(pulumi plugin ls 2>/dev/null || true); \
	if grep -Eq "^aws +resource +$(AWS_PLUGIN) " <<<"$$plugins"; then exit 0; fi; \
	archive="$(PULUMI_OFFLINE_DIR)/$(AWS_PLUGIN_ARCHIVE)"; log=/tmp/shipyard-aws-plugin.log; \
	if [ -n "$(PULUMI_OFFLINE_DIR)" ] && [ -f "$$archive" ]; then \
	  echo "installing the pulumi-aws plugin v$(AWS_PLUGIN) from $$archive"; \
	  pulumi plugin install resource aws v$(AWS_PLUGIN) --file "$$archive" >$$log 2>&1 \
	    || { echo "make tools: installing the pulumi-aws plugin from $$archive failed (log: $$log); is it the archive of https://github.com/pulumi/pulumi-aws/releases/tag/v$(AWS_PLUGIN)?" >&2; exit 1; }; \
	else \
	  echo "installing the pulumi-aws plugin v$(AWS_PLUGIN) (a download of about 200 MB)"; \
	  pulumi plugin install resource aws v$(AWS_PLUGIN) >$$log 2>&1 \
	    || { echo "make tools: the pulumi-aws plugin v$(AWS_PLUGIN) is not installed and the download failed (log: $$log): either give this machine internet access (get.pulumi.com, github.com), or put $(AWS_PLUGIN_ARCHIVE) from https://github.com/pulumi/pulumi-aws/releases/tag/v$(AWS_PLUGIN) into a directory and run PULUMI_OFFLINE_DIR=<that directory> make tools STACK=$(STACK)" >&2; exit 1; }; \
	fi

.PHONY: crane
crane: # crane (image copies by digest, for release and promote)
	@test -x $(TOOLS_BIN)/crane || GOBIN=$(TOOLS_BIN) $(GO) install github.com/google/go-containerregistry/cmd/crane@$(CRANE_VERSION)

.PHONY: actionlint
actionlint: # actionlint (make lint)
	@test -x $(TOOLS_BIN)/actionlint || GOBIN=$(TOOLS_BIN) $(GO) install github.com/rhysd/actionlint/cmd/actionlint@$(ACTIONLINT_VERSION)

.PHONY: gotestsum
gotestsum: # gotestsum (make test's progress)
	@test -x $(TOOLS_BIN)/gotestsum || GOBIN=$(TOOLS_BIN) $(GO) install gotest.tools/gotestsum@$(GOTESTSUM_VERSION)

.PHONY: pulumi-installer
pulumi-installer: # the official installer: CLI and language hosts into bin/
	tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; \
	curl -fsSL https://get.pulumi.com | sh -s -- --version $(PULUMI_VERSION) --install-root "$$tmp" --no-edit-path; \
	cp "$$tmp"/bin/* $(TOOLS_BIN)/

.PHONY: pulumi-source
pulumi-source: # build the CLI and the Go language host from the v$(PULUMI_VERSION) tag (needs github.com)
	tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; \
	git clone --quiet --depth 1 --branch v$(PULUMI_VERSION) https://github.com/pulumi/pulumi "$$tmp/pulumi"; \
	ld="-s -w -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=v$(PULUMI_VERSION)"; \
	$(GO) build -C "$$tmp/pulumi/pkg" -ldflags "$$ld" -o $(TOOLS_BIN)/pulumi ./cmd/pulumi; \
	$(GO) build -C "$$tmp/pulumi/sdk/go/pulumi-language-go" -ldflags "$$ld" -o $(TOOLS_BIN)/pulumi-language-go .

.PHONY: config-docs
config-docs: ## Regenerate docs/config.md from config/schema.json
	$(SHIPYARD) config-docs > docs/config.md.tmp && mv docs/config.md.tmp docs/config.md

##@ Help

.PHONY: help
help: ## Show this help
	@awk 'BEGIN {FS = ":.*##"} /^[a-zA-Z0-9_-]+:.*##/ { printf "  \033[36m%-16s\033[0m %s\n", $$1, $$2 } /^##@/ { printf "\n\033[1m%s\033[0m\n", substr($$0, 5) }' $(MAKEFILE_LIST)
