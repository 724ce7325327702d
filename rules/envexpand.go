package rules

import (
	"fmt"
	"strings"
)

// LookupFunc looks up an environment variable, like os.LookupEnv.
type LookupFunc func(name string) (string, bool)

// expandEnv replaces ${VAR} and ${VAR:-default} in s. A variable that is
// not set (and has no default) is an error naming it; so is an
// unterminated or empty reference. Text without "${" is returned as is.
func expandEnv(s string, lookup LookupFunc) (string, error) {
	if !strings.Contains(s, "${") {
		return s, nil
	}
	var b strings.Builder
	var missing []string
	for {
		i := strings.Index(s, "${")
		if i < 0 {
			b.WriteString(s)
			break
		}
		b.WriteString(s[:i])
		rest := s[i+2:]
		j := strings.IndexByte(rest, '}')
		if j < 0 {
			return "", fmt.Errorf("unterminated ${ in %q", s)
		}
		ref := rest[:j]
		s = rest[j+1:]
		name, def, hasDef := strings.Cut(ref, ":-")
		if !validEnvName(name) {
			return "", fmt.Errorf("invalid environment variable reference ${%s}", ref)
		}
		v, ok := lookup(name)
		switch {
		case ok && (v != "" || !hasDef):
			b.WriteString(v)
		case hasDef:
			b.WriteString(def)
		default:
			missing = append(missing, name)
		}
	}
	if len(missing) == 1 {
		return "", fmt.Errorf("environment variable %s is not set", missing[0])
	}
	if len(missing) > 1 {
		return "", fmt.Errorf("environment variables %s are not set", strings.Join(missing, ", "))
	}
	return b.String(), nil
}

func validEnvName(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		switch {
		case r == '_', r >= 'A' && r <= 'Z', r >= 'a' && r <= 'z':
		case r >= '0' && r <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}
