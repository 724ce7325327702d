package triggers

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"net/http"
	"strings"

	"github.com/seaflow/seaflow/rules"
	"github.com/seaflow/seaflow/seatable"
)

// This file is the one implementation of webhook authentication: the
// daemon's intake and `seaflow test` both call it (the test runner sends
// its cases through Webhooks.ServeHTTP). What a webhook's auth may be is
// checked once, when the config is loaded.

// checkHeader checks the credentials that do not need the body: a bearer
// token completely, a signature header for presence. It returns status 0
// when the request may go on, else 401 and the reason.
func checkHeader(h *rules.WebhookConfig, hdr http.Header) (status int, reason string) {
	switch {
	case h.SeaTable != nil:
		if hdr.Get(seatable.SignatureHeader) == "" {
			return http.StatusUnauthorized, "missing X-SeaTable-Signature header"
		}
	case h.Token != "":
		auth := hdr.Get("Authorization")
		if auth == "" {
			return http.StatusUnauthorized, "missing Authorization header"
		}
		scheme, token, ok := strings.Cut(auth, " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") {
			return http.StatusUnauthorized, "Authorization must be a Bearer token"
		}
		// Compare digests so the time taken reveals neither content nor length.
		got, want := sha256.Sum256([]byte(strings.TrimSpace(token))), sha256.Sum256([]byte(h.Token))
		if subtle.ConstantTimeCompare(got[:], want[:]) != 1 {
			return http.StatusUnauthorized, "bad bearer token"
		}
	case h.HMAC != nil:
		if hdr.Get(h.HMAC.Header) == "" {
			return http.StatusUnauthorized, "missing " + http.CanonicalHeaderKey(h.HMAC.Header) + " header"
		}
	}
	return 0, ""
}

// verifyBody checks a signature over the raw body; hooks without one pass.
func verifyBody(h *rules.WebhookConfig, hdr http.Header, body []byte) bool {
	switch {
	case h.SeaTable != nil:
		return seatable.VerifySignature(h.SeaTable.Secret, body, hdr.Get(seatable.SignatureHeader))
	case h.HMAC != nil:
		return validHMAC(h.HMAC.Secret, body, hmacHex(hdr.Get(h.HMAC.Header)))
	}
	return true
}

// hmacHex strips an optional "sha256=" prefix (any case) from a signature
// header.
func hmacHex(sig string) string {
	sig = strings.TrimSpace(sig)
	if len(sig) >= 7 && strings.EqualFold(sig[:7], "sha256=") {
		return sig[7:]
	}
	return sig
}

// validHMAC reports whether sigHex is the hex HMAC-SHA256 of body under
// secret, compared in constant time.
func validHMAC(secret string, body []byte, sigHex string) bool {
	got, err := hex.DecodeString(strings.TrimSpace(sigHex))
	if err != nil {
		return false
	}
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	return hmac.Equal(got, mac.Sum(nil))
}
