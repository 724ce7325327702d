// Package adminguard protects seaflow's admin HTTP surface: the status page
// and API, the dead-letter and replay API, /metrics and the in-process
// emulator. Every request must
//
//   - name a Host the daemon answers to: its listen address, localhost on
//     loopback, or a configured name (no DNS rebinding, no reverse proxy
//     passing a foreign Host);
//   - carry the token (Authorization: Bearer, or the page's session cookie),
//     unless the policy is open (auth: none on a loopback listener);
//   - if it changes state, not be cross-site (Sec-Fetch-Site, Origin), and
//     for the API, be a POST with a JSON body.
//
// Tokens are compared in constant time over SHA-256 digests, so neither
// their content nor their length leaks. The page keeps its credential in an
// HttpOnly, SameSite=Strict cookie set by the login form or by a first visit
// with ?token=, which is then redirected away. Every refusal is a 4xx with a
// JSON reason.
package adminguard
