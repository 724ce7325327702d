package rules

import (
	"net/url"
	"strings"

	"go.yaml.in/yaml/v3"
)

// accountKeys decodes a base's account_token, workspace_id and base_name:
// what `seaflow webhooks sync` addresses the base's account API with.
func (d *decoder) accountKeys(f map[string]entry, b *BaseConfig, field string) {
	if e, ok := f["account_token"]; ok {
		if tok, ok := d.str(e.val, field+".account_token"); ok {
			b.AccountToken = strings.TrimSpace(tok)
		}
	}
	if e, ok := f["workspace_id"]; ok {
		if id, ok := d.integer(e.val, field+".workspace_id"); ok {
			if id <= 0 {
				d.errorf(e.val, field+".workspace_id", "must be positive, not %d", id)
			} else {
				b.WorkspaceID = id
			}
		}
	}
	if e, ok := f["base_name"]; ok {
		if name, ok := d.str(e.val, field+".base_name"); ok {
			b.BaseName = strings.TrimSpace(name)
		}
	}
}

// publicURL decodes server.public_url: an http(s) URL with a host and no
// query or fragment, kept without a trailing slash.
func (d *decoder) publicURL(n *yaml.Node, s *ServerConfig) {
	v, ok := d.str(n, "server.public_url")
	if !ok || strings.TrimSpace(v) == "" {
		return
	}
	v = strings.TrimRight(strings.TrimSpace(v), "/")
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		d.errorf(n, "server.public_url", "%q is not an http(s) URL like https://seaflow.example.com (no query, fragment or user)", v)
		return
	}
	s.PublicURL = v
}
