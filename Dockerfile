# Build a static seaflow binary, then ship it alone in a minimal image that
# runs as an unprivileged user with its JetStream data on a volume.
# deploy/docker-compose.yaml runs a NATS cluster with two replicas of it.
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
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/seaflow"]
# The default runs the example against its in-process emulator; mount your
# own config (with server.listen: "0.0.0.0:8080" and a server.token) to use it.
CMD ["run", "--config", "/etc/seaflow/rules.example.yaml", "--data-dir", "/var/lib/seaflow"]
