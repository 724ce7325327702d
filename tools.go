//go:build tools

// Package tools pins the modules seaflow depends on before every package imports them.
package tools

import (
	_ "github.com/expr-lang/expr"
	_ "github.com/nats-io/nats-server/v2/server"
	_ "github.com/nats-io/nats.go"
	_ "github.com/nats-io/nats.go/jetstream"
	_ "github.com/prometheus/client_golang/prometheus"
	_ "github.com/prometheus/client_golang/prometheus/promhttp"
	_ "github.com/robfig/cron/v3"
	_ "github.com/rs/zerolog"
	_ "go.yaml.in/yaml/v3"
)
