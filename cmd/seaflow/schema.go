package main

import (
	"context"
	"fmt"

	"github.com/seaflow/seaflow/rules"
)

func init() {
	commands["schema"] = command{summary: "print the JSON Schema of the config file, for editor completion", run: runSchema}
}

func runSchema(_ context.Context, m *Main, args []string) error {
	rest, err := parseArgs(m.newFlagSet("schema"), args)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return usagef("seaflow schema > seaflow.schema.json", "schema takes no arguments, got %q", rest[0])
	}
	schema, err := rules.JSONSchema()
	if err != nil {
		return fmt.Errorf("schema: %w", err)
	}
	_, err = fmt.Fprintf(m.Stdout, "%s\n", schema)
	return err
}
