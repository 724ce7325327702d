package triggers

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/seaflow/seaflow"
	"github.com/seaflow/seaflow/rules"
	"github.com/seaflow/seaflow/seatable"
)

// decodeWebhook turns a verified webhook body into the event to store,
// and for a SeaTable webhook the base uuid the body names ("" when it
// names none).
//
// For a SeaTable webhook the body is SeaTable's payload: the id is derived
// from it (base, table, row, op type, op time), Base is the webhook's
// config base, and id is ignored. A row event is stored with its body
// undecoded (Event.Raw): its reader decodes it (seatable.ExpandWebhookEvent),
// so intake reads only the fields of the id. Other bodies are decoded here:
// row and old hold the changed cells by column name, with select options
// as names and dates as times. A SeaTable body seaflow cannot read is
// still an event, with Error set, never a refusal.
//
// For other webhooks the body must be a JSON object or array (an error is
// the sender's to fix, answered 400); id is the caller's (an
// Idempotency-Key, a signature digest or a random id), scoped to the hook.
func decodeWebhook(h *rules.WebhookConfig, id string, body []byte, received time.Time) (ev seaflow.Event, baseUUID string, err error) {
	ev = seaflow.Event{Source: seaflow.SourceWebhook, Name: h.Name, Time: received.UTC()}
	if h.SeaTable == nil {
		if id == "" {
			return seaflow.Event{}, "", errors.New("empty event id")
		}
		var decoded any
		if err := json.Unmarshal(body, &decoded); err != nil {
			return seaflow.Event{}, "", fmt.Errorf("body is not JSON: %w", err)
		}
		switch decoded.(type) {
		case map[string]any, []any:
		default:
			return seaflow.Event{}, "", errors.New("body must be a JSON object or array")
		}
		ev.ID, ev.Body = "webhook/"+h.Name+"/"+id, decoded
		return ev, "", nil
	}
	ev.Base = h.SeaTable.Base
	if key, ok := seatable.PeekWebhook(body); ok {
		ev.ID, ev.Raw = key.ID(), body
		if key.OpTime > 0 {
			ev.Time = key.Time()
		}
		return ev, key.BaseUUID, nil
	}
	id, ok := seatable.DecodeWebhookEvent(&ev, body)
	if !ok {
		// Stored as a failed event under an id derived from the bytes, so a
		// redelivery of the same bytes is the same event.
		ev.ID = "webhook/" + h.Name + "/unreadable/" + digest(h.Name, body)
		return ev, probeBaseUUID(body), nil
	}
	ev.ID = id
	env, _ := ev.Body.(map[string]any)
	data, _ := env["data"].(map[string]any)
	baseUUID, _ = data["dtable_uuid"].(string)
	return ev, baseUUID, nil
}

// probeBaseUUID reads data.dtable_uuid from a body ParseWebhook refused
// ("" when it has none).
func probeBaseUUID(body []byte) string {
	var probe struct {
		Data struct {
			UUID string `json:"dtable_uuid"`
		} `json:"data"`
	}
	_ = json.Unmarshal(body, &probe)
	return probe.Data.UUID
}

// NATSEvent turns a NATS message into an event. data is decoded as JSON
// into msg; data that is not JSON becomes msg as a string. id is the
// message's id (its Nats-Msg-Id, or stream sequence), scoped to the subject.
func NATSEvent(subject, id string, data []byte, received time.Time) (seaflow.Event, error) {
	if subject == "" || id == "" {
		return seaflow.Event{}, errors.New("nats event: empty subject or id")
	}
	var msg any
	if err := json.Unmarshal(data, &msg); err != nil {
		msg = string(data)
	}
	return seaflow.Event{ID: "nats/" + subject + "/" + id, Source: seaflow.SourceNATS, Name: subject, Time: received.UTC(), Msg: msg}, nil
}

// CronEvent is the event of a cron rule's scheduled run. Its id is
// "cron/RULE/TIME" with the scheduled time in UTC RFC 3339, so every
// replica computes the same id for the same tick.
func CronEvent(rule string, scheduled time.Time) seaflow.Event {
	t := scheduled.UTC()
	return seaflow.Event{
		ID:     "cron/" + rule + "/" + t.Format(time.RFC3339),
		Source: seaflow.SourceCron,
		Name:   rule,
		Rule:   rule,
		Time:   t,
	}
}
