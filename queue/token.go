package queue

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/seaflow/seaflow"
)

// Token encodes s as one NATS subject token that is also a valid KV key and
// a valid part of a consumer name. ASCII letters, digits, '_' and '-' stay as
// they are; every other byte becomes '=' and two upper-case hex digits (so
// "a.b c" is "a=2Eb=20c"); the empty string becomes "=". The encoding is
// one-to-one: two different names never share a token.
func Token(s string) string {
	if s == "" {
		return "="
	}
	plain := true
	for i := 0; i < len(s); i++ {
		if !tokenByte(s[i]) {
			plain = false
			break
		}
	}
	if plain {
		return s
	}
	const hexDigits = "0123456789ABCDEF"
	var b strings.Builder
	b.Grow(len(s) + 8)
	for i := 0; i < len(s); i++ {
		c := s[i]
		if tokenByte(c) {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('=')
		b.WriteByte(hexDigits[c>>4])
		b.WriteByte(hexDigits[c&0x0f])
	}
	return b.String()
}

func tokenByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-'
}

// opsSubject is the OPS subject of base and lane: seaflow.ops.<base>.<lane>.
func opsSubject(base string, lane seaflow.Lane) (string, error) {
	if base == "" {
		return "", fmt.Errorf("op has no base")
	}
	if _, err := seaflow.ParseLane(string(lane)); err != nil {
		return "", fmt.Errorf("base %s: %w", base, err)
	}
	return opsPrefix + Token(base) + "." + string(lane), nil
}

// opsConsumer is the durable consumer name of base and lane. Lanes contain
// no '-', so the last '-' separates the lane and names never collide.
func opsConsumer(base string, lane seaflow.Lane) string {
	return "ops-" + Token(base) + "-" + string(lane)
}

// msgID turns an event or op id into a Nats-Msg-Id header value. Ids that
// could not travel in a header (control characters, or very long) are
// replaced by their SHA-256, which keeps deduplication exact.
func msgID(id string) string {
	if len(id) <= 256 && !strings.ContainsFunc(id, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return id
	}
	sum := sha256.Sum256([]byte(id))
	return "sha256:" + hex.EncodeToString(sum[:])
}
