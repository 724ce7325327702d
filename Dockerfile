# Build a static seaflow binary, then ship it alone in a minimal image that
# runs as an unprivileged user with its JetStream data on a volume.
# deploy/docker-compose.yaml runs a NATS cluster with two replicas of it.
#
#   docker build -t seaflow .
#   docker run -e SEAFLOW_TOKEN=$(openssl rand -hex 16) -p 8080:8080 seaflow
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 GOOS=linux go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/seaflow ./cmd/seaflow
RUN mkdir -p /out/data

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/seaflow /usr/local/bin/seaflow
COPY rules.example.yaml rules.example.fixture.yaml /etc/seaflow/
# The data directory belongs to the image's non-root user (65532).
COPY --from=build --chown=65532:65532 /out/data /var/lib/seaflow
USER 65532:65532
WORKDIR /var/lib/seaflow
VOLUME ["/var/lib/seaflow"]
# The example's server section reads these: listen on every interface of
# the container, with a token required. Without SEAFLOW_TOKEN (16+
# characters) it refuses to start and says so.
ENV SEAFLOW_LISTEN=0.0.0.0:8080 SEAFLOW_AUTH=token
EXPOSE 8080
# distroless has no curl: the binary asks its own /readyz (503 while it
# starts, or when the store is damaged).
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 CMD ["/usr/local/bin/seaflow", "health", "--url", "http://127.0.0.1:8080"]
ENTRYPOINT ["/usr/local/bin/seaflow"]
# The default runs the example against its in-process emulator; mount your
# own config (server.listen "0.0.0.0:8080" and a server.token) to use it.
CMD ["run", "--config", "/etc/seaflow/rules.example.yaml", "--data-dir", "/var/lib/seaflow"]
