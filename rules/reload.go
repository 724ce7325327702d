package rules

import (
	"errors"

	"github.com/rs/zerolog"
)

// Reload loads the config at path to replace current. When the whole file
// is valid it returns the new config; otherwise it logs every problem, one
// log line each, and returns current with the error, so that the old rules
// keep running. Swap the returned config's RuleSet into the runner.
func Reload(path string, env func(string) (string, bool), current *Config, log zerolog.Logger) (*Config, error) {
	cfg, err := Load(path, env)
	if err == nil {
		log.Info().Str("config", path).Int("rules", len(cfg.Rules)).Msg("config reloaded")
		return cfg, nil
	}
	var list ErrorList
	if errors.As(err, &list) {
		for _, e := range list {
			log.Error().Str("config", path).Str("problem", e.Error()).Msg("config reload refused")
		}
	} else {
		log.Error().Err(err).Str("config", path).Msg("config reload refused")
	}
	return current, err
}
