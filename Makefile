# seaflow's developer targets. `make help` lists them; .ci/run runs
# lint, test, race and fuzz in that order.

# staticcheck is pinned so that CI and every developer see the same findings.
STATICCHECK_VERSION := v0.8.2
GOBIN ?= $(shell go env GOPATH)/bin
# The packages where the race detector finds something to check: the ones
# with goroutines of their own (the daemon's packages), not the pure parsers.
RACE_PKGS := ./budget ./actions ./queue ./runner ./triggers ./rules ./seatable/... ./metrics

.PHONY: help build run test race lint fuzz bench ci

help: ## list the targets
	@grep -E '^[a-z]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | expand -t 10

build: ## build ./seaflow
	go build -o seaflow ./cmd/seaflow

run: ## run the daemon on the example config (embedded NATS + emulator)
	go run ./cmd/seaflow run --config rules.example.yaml

test: ## the README's test command
	go test ./... -timeout 30m

race: ## the daemon's packages under the race detector
	go test -race -timeout 30m $(RACE_PKGS)

# gofmt: one layout for every file, so diffs show only changes.
# go vet: the compiler's own checks of printf verbs, copied locks, bad tags.
# staticcheck: unused code, simplifications, deprecated APIs and real bugs
#   (wrong error checks, impossible conditions) that vet does not look for.
lint: ## gofmt, go vet, staticcheck
	@unformatted=$$(gofmt -l $$(git ls-files '*.go')); \
	  if [ -n "$$unformatted" ]; then echo "gofmt would change:"; echo "$$unformatted"; exit 1; fi
	go vet ./...
	@test -x $(GOBIN)/staticcheck && $(GOBIN)/staticcheck -version | grep -q '$(STATICCHECK_VERSION:v%=%)' \
	  || go install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)
	$(GOBIN)/staticcheck ./...

fuzz: ## every fuzz target for FUZZTIME each (default 15s)
	scripts/fuzz.sh

bench: ## the Go benchmarks and the virtual day (see bench/README.md)
	go test -run '^$$' -bench . -benchmem ./rules ./budget ./actions ./queue
	go run ./bench/cmd/virtualday

ci: ## what CI runs
	.ci/run
