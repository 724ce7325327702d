package rules

import (
	"encoding/json"
	"errors"
	"time"

	"github.com/seaflow/seaflow"
)

// natsEvent and cronEvent build events the way the triggers do
// (triggers.NATSEvent, triggers.CronEvent); the rules package cannot import
// the triggers, which import it.
func natsEvent(subject, id string, data []byte, received time.Time) (seaflow.Event, error) {
	if subject == "" || id == "" {
		return seaflow.Event{}, errors.New("nats event: empty subject or id")
	}
	var msg any
	if err := json.Unmarshal(data, &msg); err != nil {
		msg = string(data)
	}
	return seaflow.Event{ID: "nats/" + subject + "/" + id, Source: seaflow.SourceNATS, Name: subject, Time: received.UTC(), Msg: msg}, nil
}

func cronEvent(rule string, scheduled time.Time) seaflow.Event {
	t := scheduled.UTC()
	return seaflow.Event{ID: "cron/" + rule + "/" + t.Format(time.RFC3339), Source: seaflow.SourceCron, Name: rule, Rule: rule, Time: t}
}
