# agentgate: run `make help` for the targets.
SHELL := /bin/bash
.DEFAULT_GOAL := help

.PHONY: help
help: ## Show this help
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z0-9_-]+:.*## / {printf "  \033[36m%-16s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

.PHONY: demo
demo: ## Main job: local control plane + agentgate + the seed scenario, narrated
	hack/demo.sh

.PHONY: demo-mcp
demo-mcp: ## The seed scenario as an AI agent: through agentgate's MCP server (agentgate mcp)
	hack/demo.sh mcp

.PHONY: test
test: ## Whole test suite: unit + e2e against a real control plane (started if needed)
	hack/test.sh all

.PHONY: test-unit
test-unit: ## Unit tests of the pure logic only (no cluster)
	hack/test.sh unit

.PHONY: test-e2e
test-e2e: ## End-to-end tests only (local control plane, or E2E_KUBECONFIG_DIR)
	hack/test.sh e2e

.PHONY: test-kind
test-kind: ## The same e2e suite on a kind cluster (needs Docker + kind; not on these machines)
	hack/kind-e2e.sh

.PHONY: bench
bench: ## Benchmarks; print figures and ratios to baselines measured in the same run
	hack/bench.sh

.PHONY: lint
lint: ## Lint and format check (Biome, pinned in package.json), fail on unused exports; run by make test
	hack/deps.sh && npx biome lint . && npx biome format . && node hack/unused-exports.mjs --strict

.PHONY: fmt
fmt: ## Format every TypeScript file in place (Biome; line width 160)
	# Twice: Biome occasionally settles a wrapped signature only on its second pass.
	hack/deps.sh && npx biome format --write . >/dev/null && npx biome format --write .

.PHONY: build
build: ## Compile TypeScript to dist/
	hack/deps.sh && npx tsc -p tsconfig.json

.PHONY: controlplane
controlplane: ## Build (or find) the pinned kube-apiserver, kubectl, etcd
	hack/controlplane/build.sh

.PHONY: up
up: ## Start the local control plane (harmless if running)
	hack/controlplane/up.sh

.PHONY: down
down: ## Stop the local control plane (harmless if stopped)
	hack/controlplane/down.sh

.PHONY: clean
clean: down ## Stop everything and remove build output and control-plane state
	hack/controlplane/down.sh --purge; rm -rf dist
