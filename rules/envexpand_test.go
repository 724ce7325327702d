package rules

import (
	"strings"
	"testing"
)

func TestExpandEnv(t *testing.T) {
	t.Parallel()
	env := func(k string) (string, bool) {
		v, ok := map[string]string{"A": "1", "EMPTY": "", "B_2": "two"}[k]
		return v, ok
	}
	tests := []struct {
		in, want, err string
	}{
		{in: "plain", want: "plain"},
		{in: "${A}", want: "1"},
		{in: "x${A}y${B_2}z", want: "x1ytwoz"},
		{in: "${MISSING:-def}", want: "def"},
		{in: "${EMPTY:-def}", want: "def"},
		{in: "${EMPTY}", want: ""},
		{in: "${A:-def}", want: "1"},
		{in: "$A and $", want: "$A and $"},
		{in: "${MISSING}", err: "environment variable MISSING is not set"},
		{in: "${M1}${M2}", err: "environment variables M1, M2 are not set"},
		{in: "${A", err: "unterminated"},
		{in: "${1A}", err: "invalid environment variable reference"},
		{in: "${}", err: "invalid environment variable reference"},
	}
	for _, tt := range tests {
		got, err := expandEnv(tt.in, env)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("expandEnv(%q) error = %v, want %q", tt.in, err, tt.err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("expandEnv(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}
