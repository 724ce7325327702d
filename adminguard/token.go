package adminguard

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"net/http"
	"time"
)

// CookieName is the page's session cookie.
const CookieName = "seaflow_session"

// SessionMaxAge is how long a login lasts in the browser.
const SessionMaxAge = 7 * 24 * time.Hour

// constantTimeCompare is subtle.ConstantTimeCompare; tests replace it to
// see what it is given.
var constantTimeCompare = subtleCompare

// subtleCompare is the real constant-time compare.
var subtleCompare = subtle.ConstantTimeCompare

// TokenEqual reports whether got is the token want. It compares SHA-256
// digests of both in constant time, so the time taken says nothing about
// want's content or length.
func TokenEqual(got, want string) bool {
	a, b := sha256.Sum256([]byte(got)), sha256.Sum256([]byte(want))
	return constantTimeCompare(a[:], b[:]) == 1
}

// sessionValue is the cookie value for token: a MAC of a fixed label keyed
// by the token, so the browser never holds the token itself and a new
// token ends every session.
func sessionValue(token string) string {
	m := hmac.New(sha256.New, []byte(token))
	m.Write([]byte("seaflow admin session v1"))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// sessionValid reports whether a cookie value is the session of token.
func sessionValid(value, token string) bool {
	got, err := base64.RawURLEncoding.DecodeString(value)
	if err != nil || len(got) != sha256.Size {
		return false
	}
	want, _ := base64.RawURLEncoding.DecodeString(sessionValue(token))
	return constantTimeCompare(got, want) == 1
}

// setSession sets the session cookie of token on w.
func setSession(w http.ResponseWriter, r *http.Request, token string) {
	http.SetCookie(w, &http.Cookie{
		Name:     CookieName,
		Value:    sessionValue(token),
		Path:     "/",
		MaxAge:   int(SessionMaxAge / time.Second),
		HttpOnly: true,
		Secure:   r.TLS != nil,
		SameSite: http.SameSiteStrictMode,
	})
}
