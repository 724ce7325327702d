# Build a static seaflow binary, then ship it alone in a minimal image that
# runs as an unprivileged user with its JetStream data on a volume.
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 GOOS=linux go build -trimpath \
      -ldflags "-s -w -X main.version=${VERSION}" \
      -o /out/seaflow ./cmd/seaflow

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/seaflow /usr/local/bin/seaflow
COPY rules.example.yaml rules.example.fixture.yaml /etc/seaflow/
USER nonroot:nonroot
VOLUME ["/var/lib/seaflow"]
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/seaflow"]
CMD ["run", "--config", "/etc/seaflow/rules.example.yaml", "--data-dir", "/var/lib/seaflow"]
