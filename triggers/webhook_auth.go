package triggers

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"net/http"
	"strings"

	"github.com/seaflow/seaflow/seatable"
)

// checkHeader checks the credentials that do not need the body: a bearer
// token completely, a signature header for presence. It returns status 0 when
// the request may go on, else 401 and the reason.
func (h Hook) checkHeader(hdr http.Header) (status int, reason string) {
	switch {
	case h.SeaTableSecret != "":
		if hdr.Get(seatable.SignatureHeader) == "" {
			return http.StatusUnauthorized, "missing X-SeaTable-Signature header"
		}
	case h.BearerToken != "":
		auth := hdr.Get("Authorization")
		if auth == "" {
			return http.StatusUnauthorized, "missing Authorization header"
		}
		scheme, token, ok := strings.Cut(auth, " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") {
			return http.StatusUnauthorized, "Authorization must be a Bearer token"
		}
		// Compare digests so the time taken reveals neither content nor length.
		got, want := sha256.Sum256([]byte(strings.TrimSpace(token))), sha256.Sum256([]byte(h.BearerToken))
		if subtle.ConstantTimeCompare(got[:], want[:]) != 1 {
			return http.StatusUnauthorized, "bad bearer token"
		}
	case h.HMACSecret != "":
		if hdr.Get(h.HMACHeader) == "" {
			return http.StatusUnauthorized, "missing " + http.CanonicalHeaderKey(h.HMACHeader) + " header"
		}
	}
	return 0, ""
}

// verifyBody checks a signature over the raw body; hooks without one pass.
func (h Hook) verifyBody(hdr http.Header, body []byte) bool {
	switch {
	case h.SeaTableSecret != "":
		return seatable.VerifySignature(h.SeaTableSecret, body, hdr.Get(seatable.SignatureHeader))
	case h.HMACSecret != "":
		sig := strings.TrimPrefix(hdr.Get(h.HMACHeader), "sha256=")
		return validHMAC(h.HMACSecret, body, sig)
	}
	return true
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
