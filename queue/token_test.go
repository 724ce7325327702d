package queue

import (
	"strconv"
	"strings"
	"testing"
)

func TestToken(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"crm":       "crm",
		"My_Base-2": "My_Base-2",
		"":          "=",
		"a.b c":     "a=2Eb=20c",
		"x>*=":      "x=3E=2A=3D",
		"ü":         "=C3=BC",
	} {
		if got := Token(in); got != want {
			t.Errorf("Token(%q) = %q, want %q", in, got, want)
		}
	}
}

// untoken inverts Token, to show the encoding is one-to-one.
func untoken(tok string) (string, bool) {
	if tok == "=" {
		return "", true
	}
	var b strings.Builder
	for i := 0; i < len(tok); i++ {
		if tok[i] != '=' {
			b.WriteByte(tok[i])
			continue
		}
		if i+3 > len(tok) {
			return "", false
		}
		n, err := strconv.ParseUint(tok[i+1:i+3], 16, 8)
		if err != nil {
			return "", false
		}
		b.WriteByte(byte(n))
		i += 2
	}
	return b.String(), true
}

func FuzzToken(f *testing.F) {
	for _, s := range []string{"", "crm", "a.b", "=", "=41", "x y>z*", "\x00\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tok := Token(s)
		if tok == "" {
			t.Fatal("empty token")
		}
		for i := 0; i < len(tok); i++ {
			if !tokenByte(tok[i]) && tok[i] != '=' {
				t.Fatalf("Token(%q) = %q has byte %q", s, tok, tok[i])
			}
		}
		back, ok := untoken(tok)
		if !ok || back != s {
			t.Fatalf("Token(%q) = %q decodes to %q (%v)", s, tok, back, ok)
		}
	})
}

func TestMsgID(t *testing.T) {
	t.Parallel()
	if got := msgID("webhook:crm:Deals:r1:2026"); got != "webhook:crm:Deals:r1:2026" {
		t.Errorf("plain id changed: %q", got)
	}
	a, b := msgID("x\r\ny"), msgID("x\r\nz")
	if a == b || strings.ContainsAny(a, "\r\n") || !strings.HasPrefix(a, "sha256:") {
		t.Errorf("ids with control characters: %q, %q", a, b)
	}
	if long := msgID(strings.Repeat("a", 300)); len(long) > 100 {
		t.Errorf("long id kept: %d bytes", len(long))
	}
}
