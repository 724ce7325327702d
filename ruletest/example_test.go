package ruletest_test

import (
	"strings"
	"testing"

	"github.com/seaflow/seaflow/ruletest"
)

// TestExample runs the shipped example's rule tests, as `seaflow test
// rules.example.test.yaml` does.
func TestExample(t *testing.T) {
	var out strings.Builder
	failed, err := ruletest.Run([]string{"../rules.example.test.yaml"}, &out)
	t.Log("\n" + out.String())
	if err != nil || failed > 0 {
		t.Fatalf("example rule tests: %d failed, err %v\n%s", failed, err, out.String())
	}
}
