package rules

import (
	"encoding/json"
)

// nameRePattern is nameRe as a JSON Schema pattern (names of bases).
const nameRePattern = `^[A-Za-z0-9_-]+$`

// envPattern matches text that ${VAR} expansion may turn into a number or
// a boolean.
const envPattern = `\$\{`

// JSONSchema returns the JSON Schema (draft-07) of the config file, built
// from ConfigKeys and the action table, for editors: completion, the doc
// of each key, and unknown keys marked as the loader would refuse them.
// It checks shape only: references (unknown base, webhook), expressions
// and cron specs are for `seaflow validate`.
func JSONSchema() ([]byte, error) {
	actions := make([]any, 0, len(ActionKeys()))
	for _, a := range ActionKeys() {
		actions = append(actions, map[string]any{
			"type":                 "object",
			"description":          a.Doc,
			"properties":           map[string]any{a.Name: keySchema(a)},
			"required":             []string{a.Name},
			"additionalProperties": false,
		})
	}
	root := keySchema(ConfigKeys)
	root["$schema"] = "http://json-schema.org/draft-07/schema#"
	root["$id"] = "https://github.com/seaflow/seaflow/config.schema.json"
	root["title"] = "seaflow config"
	root["definitions"] = map[string]any{
		"value":  map[string]any{"description": "A literal, an =expression (== escapes a literal =), or a list or mapping of values."},
		"action": map[string]any{"description": "One row action: " + actionKindNames() + ".", "oneOf": actions},
	}
	// The top-level lists and maps may be left empty (null).
	for _, name := range []string{"bases", "webhooks", "rules"} {
		p := root["properties"].(map[string]any)[name].(map[string]any)
		p["type"] = []string{p["type"].(string), "null"}
	}
	return json.MarshalIndent(root, "", "  ")
}

// keySchema is the schema of one key's value.
func keySchema(k *Key) map[string]any {
	s := map[string]any{}
	if k.Doc != "" {
		s["description"] = k.Doc
	}
	switch k.Type {
	case KeyString:
		s["type"] = "string"
		if len(k.Enum) > 0 {
			s["enum"] = k.Enum
		}
	case KeyInt, KeyNumber:
		s["type"] = []string{string(k.Type), "string"}
		s["pattern"] = envPattern
	case KeyBool:
		s["type"] = []string{"boolean", "string"}
		s["pattern"] = `^([Tt]rue|[Ff]alse|[Yy]es|[Nn]o|[Oo]n|[Oo]ff)$|` + envPattern
	case KeyObject:
		props := map[string]any{}
		var req []string
		for _, c := range k.Keys {
			props[c.Name] = keySchema(c)
			if c.Required {
				req = append(req, c.Name)
			}
		}
		s["type"] = "object"
		s["properties"] = props
		s["additionalProperties"] = false
		if len(req) > 0 {
			s["required"] = req
		}
	case KeyMap:
		s["type"] = "object"
		s["propertyNames"] = map[string]any{"pattern": nameRePattern}
		s["additionalProperties"] = keySchema(k.Elem)
	case KeyList:
		s["type"] = "array"
		s["items"] = keySchema(k.Elem)
	case KeyValue:
		s["$ref"] = "#/definitions/value"
	case KeyAction:
		s["$ref"] = "#/definitions/action"
	}
	return s
}
