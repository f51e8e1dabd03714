# syntax=docker/dockerfile:1
#
# Container image of lambda-durable-exporter.
#
#   docker build -t lambda-durable-exporter \
#     --build-arg VERSION=$(git describe --tags --always) \
#     --build-arg REVISION=$(git rev-parse HEAD) \
#     --build-arg BRANCH=$(git rev-parse --abbrev-ref HEAD) \
#     --build-arg BUILD_DATE=$(date -u +%Y%m%d-%H:%M:%S) .
#
# The runtime image is distroless (no shell, no package manager) and runs as
# the unprivileged user 65532. Mount the configuration at
# /etc/lambda-durable-exporter/config.yaml (deploy/helm does it with a ConfigMap).
# deploy/dockerfile_test.go checks the properties this file must keep.

ARG GO_VERSION=1.26.8

FROM --platform=$BUILDPLATFORM golang:${GO_VERSION}-bookworm AS builder
ARG TARGETOS=linux
ARG TARGETARCH=amd64
ARG VERSION=dev
ARG REVISION=unknown
ARG BRANCH=unknown
ARG BUILD_USER=docker
ARG BUILD_DATE=unknown
WORKDIR /src
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 GOOS=${TARGETOS} GOARCH=${TARGETARCH} \
    go build -trimpath \
      -ldflags "-s -w \
        -X github.com/prometheus/common/version.Version=${VERSION} \
        -X github.com/prometheus/common/version.Revision=${REVISION} \
        -X github.com/prometheus/common/version.Branch=${BRANCH} \
        -X github.com/prometheus/common/version.BuildUser=${BUILD_USER} \
        -X github.com/prometheus/common/version.BuildDate=${BUILD_DATE}" \
      -o /out/lambda-durable-exporter ./cmd/exporter

FROM gcr.io/distroless/static-debian12:nonroot
ARG VERSION=dev
ARG REVISION=unknown
LABEL org.opencontainers.image.title="lambda-durable-exporter" \
      org.opencontainers.image.description="Prometheus exporter for AWS Lambda durable executions" \
      org.opencontainers.image.source="https://github.com/lambda-durable-exporter/lambda-durable-exporter" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}"
COPY --from=builder /out/lambda-durable-exporter /bin/lambda-durable-exporter
USER 65532:65532
EXPOSE 9897
ENTRYPOINT ["/bin/lambda-durable-exporter", "--config.file=/etc/lambda-durable-exporter/config.yaml"]
