package hec

import (
	"regexp"
	"strings"
)

// redactor removes credentials from text that leaves the server (logs, refusal texts): the
// configured token values wherever they appear, and whatever follows an HTTP auth scheme or a
// token= parameter, since a mistyped or foreign token is a secret too.
type redactor struct {
	values []string
}

const redacted = "<redacted>"

var credentialRe = regexp.MustCompile(`(?i)\b(splunk|basic|bearer)(\s+)[^\s"',;]+|\b(token=)[^\s&"',;]+`)

func newRedactor(tokens []Token) *redactor {
	r := &redactor{}
	for _, t := range tokens {
		if t.Value != "" {
			r.values = append(r.values, t.Value)
		}
	}
	return r
}

func (r *redactor) text(s string) string {
	for _, v := range r.values {
		if strings.Contains(s, v) {
			s = strings.ReplaceAll(s, v, redacted)
		}
	}
	return credentialRe.ReplaceAllStringFunc(s, func(m string) string {
		sub := credentialRe.FindStringSubmatch(m)
		if sub[3] != "" {
			return sub[3] + redacted
		}
		return sub[1] + sub[2] + redacted
	})
}
