# Builds, tests and the container image of lambda-durable-exporter.
#
#   make build                  static binary ./lambda-durable-exporter (CGO_ENABLED=0), with
#                               promu-style version information (-ldflags -X of
#                               github.com/prometheus/common/version)
#   make build VERSION=1.2.3    the same with that version (also REVISION=, BRANCH=, BUILD_USER=,
#                               BUILD_DATE=, GOOS=, GOARCH=)
#   make test                   the tests, as CI runs them (go test -race ./...)
#   make lint                   golangci-lint, pinned, over every module (.ci/golangci-lint.sh)
#   make dashboard              regenerates grafana/dashboards/ from the Go code in grafana/
#   make image                  the image FROM scratch (Containerfile), with podman;
#                               IMAGE=name:tag names it (default lambda-durable-exporter:$(VERSION))
#   make image-context          only stages what the Containerfile copies, in .build/image/
#
# VERSION is `git describe --tags --dirty` when a tag is reachable; else the VERSION file's
# content when there is one; else 0.0.0-dev, with `+<short commit>[-dirty]` in a git checkout.

BINARY        := lambda-durable-exporter
VERSION_PKG   := github.com/prometheus/common/version
# Everything the Containerfile copies, built and staged by `make image-context`.
IMAGE_CONTEXT := .build/image
CA_BUNDLE     ?= /etc/ssl/certs/ca-certificates.crt
CONTAINER_ENGINE ?= podman
# More flags of `$(CONTAINER_ENGINE) build`, e.g. --layers=false (no intermediate images kept).
CONTAINER_BUILD_FLAGS ?=

ifeq ($(origin VERSION), undefined)
VERSION := $(shell git describe --tags --dirty 2>/dev/null || cat VERSION 2>/dev/null || \
	{ r=$$(git describe --always --dirty 2>/dev/null) && echo "0.0.0-dev+$$r"; } || echo 0.0.0-dev)
endif
ifeq ($(origin REVISION), undefined)
REVISION := $(shell git rev-parse HEAD 2>/dev/null || echo unknown)
endif
ifeq ($(origin BRANCH), undefined)
BRANCH := $(shell git rev-parse --abbrev-ref HEAD 2>/dev/null || echo unknown)
endif
BUILD_USER ?= $(shell id -un 2>/dev/null || echo unknown)@$(shell hostname 2>/dev/null || echo unknown)
ifeq ($(origin BUILD_DATE), undefined)
BUILD_DATE := $(shell date -u +%Y%m%d-%H:%M:%S)
endif
GOOS   ?= $(shell go env GOOS)
GOARCH ?= $(shell go env GOARCH)
IMAGE  ?= $(BINARY):$(subst +,_,$(VERSION))

LDFLAGS := -s -w \
	-X $(VERSION_PKG).Version=$(VERSION) \
	-X $(VERSION_PKG).Revision=$(REVISION) \
	-X $(VERSION_PKG).Branch=$(BRANCH) \
	-X $(VERSION_PKG).BuildUser=$(BUILD_USER) \
	-X $(VERSION_PKG).BuildDate=$(BUILD_DATE)

# go-build GOOS,OUTPUT: the static, version-stamped build of ./cmd/exporter.
define go-build
CGO_ENABLED=0 GOOS=$(1) GOARCH=$(GOARCH) go build -trimpath -ldflags '$(LDFLAGS)' -o $(2) ./cmd/exporter
endef

.PHONY: all build test lint dashboard image image-context clean
all: build

build:
	$(call go-build,$(GOOS),$(BINARY))

test:
	go test -race -count=1 ./...

lint:
	.ci/golangci-lint.sh

dashboard:
	cd grafana && go run ./cmd/generate

# The files at the paths the Containerfile copies from: the binary (always built for linux), the
# build host's CA bundle, and passwd/group entries for root, nonroot (65532) and nobody.
image-context:
	@test -r $(CA_BUNDLE) || { echo "no CA bundle at $(CA_BUNDLE): install ca-certificates or set CA_BUNDLE=" >&2; exit 1; }
	rm -rf $(IMAGE_CONTEXT)
	mkdir -p $(IMAGE_CONTEXT)
	$(call go-build,linux,$(IMAGE_CONTEXT)/$(BINARY))
	cp $(CA_BUNDLE) $(IMAGE_CONTEXT)/ca-certificates.crt
	printf '%s\n' 'root:x:0:0:root:/root:/sbin/nologin' 'nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin' \
		'nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin' > $(IMAGE_CONTEXT)/passwd
	printf '%s\n' 'root:x:0:' 'nobody:x:65534:' 'nonroot:x:65532:' > $(IMAGE_CONTEXT)/group

# FROM scratch: no registry is needed. Also `podman build .` after `make image-context`.
image: image-context
	$(CONTAINER_ENGINE) build $(CONTAINER_BUILD_FLAGS) -f Containerfile -t $(IMAGE) \
		--build-arg VERSION=$(VERSION) --build-arg REVISION=$(REVISION) .

clean:
	rm -rf $(BINARY) .build
