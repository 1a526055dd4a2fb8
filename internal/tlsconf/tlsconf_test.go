package tlsconf

import (
	"crypto/tls"
	"strings"
	"testing"

	"github.com/hecrisk/hecrisk/internal/conf"
)

func TestParseVersions(t *testing.T) {
	tests := []struct {
		in     string
		lo, hi uint16
		err    string
	}{
		{"", tls.VersionTLS12, tls.VersionTLS13, ""},
		{"*,-ssl2", tls.VersionTLS10, tls.VersionTLS13, ""},
		{"tls1.2", tls.VersionTLS12, tls.VersionTLS12, ""},
		{"tls, -tls1.0, -tls1.1", tls.VersionTLS12, tls.VersionTLS13, ""},
		{"ssl3, tls1.2", tls.VersionTLS12, tls.VersionTLS12, ""},
		{"TLS1.1,TLS1.2", tls.VersionTLS11, tls.VersionTLS12, ""},
		{"tls1.0,tls1.2", 0, 0, "contiguous"},
		{"ssl3", 0, 0, "no TLS version"},
		{"*,-tls", 0, 0, "no TLS version"},
		{"tls9", 0, 0, "unknown version"},
	}
	for _, tc := range tests {
		lo, hi, err := ParseVersions(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("ParseVersions(%q): err %v, want %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || lo != tc.lo || hi != tc.hi {
			t.Errorf("ParseVersions(%q) = %x..%x %v, want %x..%x", tc.in, lo, hi, err, tc.lo, tc.hi)
		}
	}
}

// TestEnabled: TLS is on when asked, or when only a certificate is named (Splunk's default for
// enableSSL and enableSplunkdSSL is on); the zero configuration is plain HTTP.
func TestEnabled(t *testing.T) {
	load := func(name, text string) *conf.Config {
		f, err := conf.ParseString("/etc/hecrisk/"+name, text)
		if err != nil {
			t.Fatal(err)
		}
		return conf.Merge(f)
	}
	for _, tc := range []struct {
		inputs string
		on     bool
		cert   string
	}{
		{"", false, ""},
		{"[http]\nenableSSL = 0\nserverCert = x.pem\n", false, ""},
		{"[http]\nserverCert = certs/hec.pem\n", true, "/etc/hecrisk/certs/hec.pem"},
		{"[http]\nenableSSL = true\nserverCert = /abs/hec.pem\n", true, "/abs/hec.pem"},
	} {
		s, err := HEC(load("inputs.conf", tc.inputs), nil)
		if err != nil || (s != nil) != tc.on || (s != nil && s.ServerCert != tc.cert) {
			t.Errorf("%q: %+v %v", tc.inputs, s, err)
		}
	}
	s, err := Splunkd(load("server.conf", "[sslConfig]\nsslRootCAPath = /ca.pem\n"))
	if s != nil || err != nil {
		t.Errorf("a CA alone does not turn the API to TLS: %+v %v", s, err)
	}
	s, err = HEC(load("inputs.conf", "[http]\nserverCert = /h.pem\nrequireClientCert = 1\n"), load("server.conf", "[sslConfig]\nsslRootCAPath = /ca.pem\n"))
	if err != nil || s.RootCA != "/ca.pem" || !s.RequireClientCert {
		t.Errorf("client CA from server.conf: %+v %v", s, err)
	}
}
