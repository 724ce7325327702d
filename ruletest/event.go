package ruletest

import (
	"errors"
	"fmt"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/seaflow/seaflow"
	"github.com/seaflow/seaflow/rules"
)

// IsInput reports whether data (YAML or JSON) is a rule-test trigger
// input, a mapping with webhook:, nats: or cron:, rather than a stored
// event.
func IsInput(data []byte) bool {
	var probe map[string]any
	if yaml.Unmarshal(data, &probe) != nil {
		return false
	}
	for _, k := range []string{"webhook", "nats", "cron"} {
		if _, ok := probe[k]; ok {
			return true
		}
	}
	return false
}

// Event builds the event of a rule-test trigger input, written as in a
// test case: exactly one of webhook: {name, body, headers?, id?},
// nats: {subject, data, id?} or cron: {rule, at}, with an optional now:.
// It goes through the same intake as `seaflow test` (a webhook body is
// decoded and checked by the config's webhook). It returns the event and
// the clock to evaluate it at: now: when given, else the cron tick's time,
// else def.
func Event(cfg *rules.Config, data []byte, def time.Time) (seaflow.Event, time.Time, error) {
	var c testCase
	if err := yaml.Unmarshal(data, &c); err != nil {
		return seaflow.Event{}, time.Time{}, fmt.Errorf("trigger input: %w", err)
	}
	inputs := 0
	for _, set := range []bool{c.Webhook != nil, c.NATS != nil, c.Cron != nil} {
		if set {
			inputs++
		}
	}
	if inputs != 1 {
		return seaflow.Event{}, time.Time{}, errors.New("trigger input: want exactly one of webhook, nats and cron")
	}
	c.Name = "input"
	var now time.Time
	if c.Now != "" {
		t, err := time.Parse(time.RFC3339, c.Now)
		if err != nil {
			return seaflow.Event{}, time.Time{}, fmt.Errorf("now: %w", err)
		}
		now = t
	} else if c.Cron == nil {
		now = def
	}
	ev, err := caseEvent(cfg, &c, &now)
	if err != nil {
		return seaflow.Event{}, time.Time{}, err
	}
	return ev, now, nil
}
