package metrics

import (
	"strings"
	"unicode"
)

// idSegment replaces a path segment that looks like an identifier or a
// secret in an endpoint label.
const idSegment = ":id"

// maxEndpointLen bounds an endpoint label.
const maxEndpointLen = 80

// EndpointLabel turns an endpoint into a bounded, secret-free label value.
// A name such as "rows.append" or "update rows" is kept. From a URL or path
// it drops the scheme, host, query and fragment, and replaces every segment
// that looks like an id (all digits, three or more digits as in a UUID or a
// hex token, or a long mixed-case string as in a row id or a JWT) with
// ":id", so "https://h/api/v2/dtables/6f1c…/rows/?token=x" becomes
// "/api/v2/dtables/:id/rows/".
func EndpointLabel(endpoint string) string {
	s := endpoint
	if i := strings.Index(s, "://"); i >= 0 {
		s = s[i+3:]
		if j := strings.IndexByte(s, '/'); j >= 0 {
			s = s[j:]
		} else {
			s = "/"
		}
	}
	if i := strings.IndexAny(s, "?#"); i >= 0 {
		s = s[:i]
	}
	segs := strings.Split(s, "/")
	for i, seg := range segs {
		if idLike(seg) {
			segs[i] = idSegment
		}
	}
	s = strings.Join(segs, "/")
	if len(s) > maxEndpointLen {
		s = s[:maxEndpointLen]
	}
	return s
}

// idLike reports whether a segment looks like an identifier or a secret
// rather than a word of an API path or an endpoint name.
func idLike(seg string) bool {
	if seg == "" {
		return false
	}
	digits, upper, space := 0, false, false
	for _, r := range seg {
		switch {
		case unicode.IsDigit(r):
			digits++
		case unicode.IsUpper(r):
			upper = true
		case unicode.IsSpace(r):
			space = true
		}
	}
	switch {
	case digits == len(seg):
		return true
	case digits >= 3:
		return true
	case len(seg) >= 16 && upper && !space:
		return true
	}
	return false
}
