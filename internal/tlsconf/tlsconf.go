// Package tlsconf turns Splunk's TLS settings into a crypto/tls server configuration: HEC from
// inputs.conf [http] (enableSSL, serverCert, sslPassword, sslVersions, requireClientCert,
// sslCommonNameToCheck, sslAltNameToCheck) with the client CA from server.conf [sslConfig]
// sslRootCAPath, and the management port (REST API and console) from server.conf [sslConfig]
// (enableSplunkdSSL and the same keys). Certificates follow Splunk's convention: one PEM file
// holding the server certificate, its private key (optionally encrypted with sslPassword) and
// the chain.
package tlsconf

import (
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/youmark/pkcs8"

	"github.com/hecrisk/hecrisk/internal/conf"
)

// Settings are the TLS settings of one listener, as read from .conf files.
type Settings struct {
	// Where names the stanza the settings come from, for messages ("inputs.conf [http]").
	Where string
	// ServerCert is the PEM file with the certificate, the private key and the chain.
	ServerCert string
	// Password decrypts an encrypted private key (sslPassword). Splunk's default is "password".
	Password string
	// Versions is sslVersions in Splunk's syntax ("*,-ssl2", "tls1.2", "tls,-tls1.0").
	Versions string
	// RequireClientCert asks every client for a certificate signed by RootCA (mutual TLS).
	RequireClientCert bool
	RootCA            string
	// CommonNames and AltNames, when set, restrict the client certificates accepted
	// (sslCommonNameToCheck, sslAltNameToCheck); either matching is enough.
	CommonNames, AltNames []string
}

// KnownHTTPKeys are the inputs.conf [http] keys this package reads.
func KnownHTTPKeys() []string {
	return []string{"enableSSL", "serverCert", "sslPassword", "sslVersions", "requireClientCert",
		"caCertFile", "sslCommonNameToCheck", "sslAltNameToCheck"}
}

// KnownSSLConfigKeys are the server.conf [sslConfig] keys this package reads.
func KnownSSLConfigKeys() []string {
	return []string{"enableSplunkdSSL", "serverCert", "sslPassword", "sslVersions", "requireClientCert",
		"sslRootCAPath", "sslCommonNameToCheck", "sslAltNameToCheck"}
}

// splunkDefaultPassword is sslPassword's default in Splunk (its own server.pem key uses it).
const splunkDefaultPassword = "password"

// HEC returns the TLS settings of the HEC listener, or nil for plain HTTP. TLS is on when
// [http] enableSSL is true, or when it is not set and serverCert is (Splunk's default for
// enableSSL is on, with a certificate hecrisk does not ship). The client CA is server.conf
// [sslConfig] sslRootCAPath, else the deprecated [http] caCertFile.
func HEC(inputs, server *conf.Config) (*Settings, error) {
	const stanza = "http"
	kvs, _ := inputs.Stanza(stanza)
	on, err := enabled(kvs, "enableSSL", stanza)
	if err != nil || !on {
		return nil, err
	}
	s, err := read("inputs.conf [http]", stanza, kvs)
	if err != nil {
		return nil, err
	}
	if kv, ok := rootCA(server); ok {
		s.RootCA = resolve(kv)
	} else if kv, ok := kvs["caCertFile"]; ok && strings.TrimSpace(kv.Value) != "" {
		s.RootCA = resolve(kv)
	}
	return s, s.check()
}

// Splunkd returns the TLS settings of the management port (REST API and console), or nil for
// plain HTTP: server.conf [sslConfig] enableSplunkdSSL, or serverCert alone.
func Splunkd(server *conf.Config) (*Settings, error) {
	const stanza = "sslConfig"
	kvs, _ := server.Stanza(stanza)
	on, err := enabled(kvs, "enableSplunkdSSL", stanza)
	if err != nil || !on {
		return nil, err
	}
	s, err := read("server.conf [sslConfig]", stanza, kvs)
	if err != nil {
		return nil, err
	}
	if kv, ok := rootCA(server); ok {
		s.RootCA = resolve(kv)
	}
	return s, s.check()
}

func rootCA(server *conf.Config) (conf.KV, bool) {
	kvs, _ := server.Stanza("sslConfig")
	kv, ok := kvs["sslRootCAPath"]
	return kv, ok && strings.TrimSpace(kv.Value) != ""
}

func enabled(kvs map[string]conf.KV, key, stanza string) (bool, error) {
	if kv, ok := kvs[key]; ok {
		on, err := conf.ParseBool(kv.Value)
		if err != nil {
			return false, fmt.Errorf("%s:%d: [%s] %s = %q: %w", kv.File, kv.Line, stanza, key, kv.Value, err)
		}
		if on {
			if _, ok := kvs["serverCert"]; !ok {
				return false, fmt.Errorf("%s:%d: [%s] %s is on but serverCert is not set: hecrisk has no built-in certificate; set serverCert to a PEM file with the certificate and its private key",
					kv.File, kv.Line, stanza, key)
			}
		}
		return on, nil
	}
	kv, ok := kvs["serverCert"]
	return ok && strings.TrimSpace(kv.Value) != "", nil
}

func read(where, stanza string, kvs map[string]conf.KV) (*Settings, error) {
	s := &Settings{Where: where, Password: splunkDefaultPassword}
	s.ServerCert = resolve(kvs["serverCert"])
	if kv, ok := kvs["sslPassword"]; ok {
		s.Password = kv.Value
		if strings.HasPrefix(kv.Value, "$7$") || strings.HasPrefix(kv.Value, "$1$") {
			return nil, fmt.Errorf("%s:%d: [%s] sslPassword is encrypted with a splunk.secret, which hecrisk cannot read; write the password in clear text (and protect the file)",
				kv.File, kv.Line, stanza)
		}
	}
	if kv, ok := kvs["sslVersions"]; ok {
		s.Versions = kv.Value
		if _, _, err := ParseVersions(kv.Value); err != nil {
			return nil, fmt.Errorf("%s:%d: [%s] sslVersions = %q: %w", kv.File, kv.Line, stanza, kv.Value, err)
		}
	}
	if kv, ok := kvs["requireClientCert"]; ok {
		v, err := conf.ParseBool(kv.Value)
		if err != nil {
			return nil, fmt.Errorf("%s:%d: [%s] requireClientCert = %q: %w", kv.File, kv.Line, stanza, kv.Value, err)
		}
		s.RequireClientCert = v
	}
	s.CommonNames = list(kvs["sslCommonNameToCheck"].Value)
	s.AltNames = list(kvs["sslAltNameToCheck"].Value)
	return s, nil
}

func list(v string) []string {
	var out []string
	for _, f := range strings.Split(v, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// resolve expands $VARS (e.g. $SPLUNK_HOME) in a path and makes a relative one relative to the
// directory of the .conf file that names it.
func resolve(kv conf.KV) string {
	p := os.ExpandEnv(strings.TrimSpace(kv.Value))
	if p == "" || filepath.IsAbs(p) || kv.File == "" {
		return p
	}
	return filepath.Join(filepath.Dir(kv.File), p)
}

func (s *Settings) check() error {
	if s.RequireClientCert && s.RootCA == "" {
		return fmt.Errorf("%s: requireClientCert is on but no CA is set to verify clients: set server.conf [sslConfig] sslRootCAPath", s.Where)
	}
	return nil
}

// ServerConfig loads the certificate and CA files and returns the listener's configuration.
func (s *Settings) ServerConfig() (*tls.Config, error) {
	cert, err := LoadCertificate(s.ServerCert, s.Password)
	if err != nil {
		return nil, fmt.Errorf("%s serverCert: %w", s.Where, err)
	}
	lo, hi, err := ParseVersions(s.Versions)
	if err != nil {
		return nil, fmt.Errorf("%s sslVersions: %w", s.Where, err)
	}
	cfg := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: lo, MaxVersion: hi}
	if s.RequireClientCert {
		pool, err := LoadCAs(s.RootCA)
		if err != nil {
			return nil, fmt.Errorf("%s: client CA: %w", s.Where, err)
		}
		cfg.ClientCAs = pool
		cfg.ClientAuth = tls.RequireAndVerifyClientCert
		if len(s.CommonNames) > 0 || len(s.AltNames) > 0 {
			cfg.VerifyConnection = s.checkNames
		}
	}
	return cfg, nil
}

// checkNames applies sslCommonNameToCheck and sslAltNameToCheck to a verified client.
func (s *Settings) checkNames(cs tls.ConnectionState) error {
	if len(cs.PeerCertificates) == 0 {
		return errors.New("no client certificate")
	}
	leaf := cs.PeerCertificates[0]
	if slices.Contains(s.CommonNames, leaf.Subject.CommonName) {
		return nil
	}
	for _, n := range leaf.DNSNames {
		if slices.Contains(s.AltNames, n) {
			return nil
		}
	}
	return fmt.Errorf("client certificate %q matches neither sslCommonNameToCheck nor sslAltNameToCheck", leaf.Subject.CommonName)
}

// LoadCertificate reads a Splunk-style PEM file: certificates (server first or not) and one
// private key, PKCS#1, SEC 1 or PKCS#8, clear or encrypted with password (PKCS#8 PBES2, or the
// legacy "Proc-Type: 4,ENCRYPTED" form).
func LoadCertificate(path, password string) (tls.Certificate, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return tls.Certificate{}, err
	}
	var certs [][]byte
	var key any
	for rest := data; ; {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		switch {
		case b.Type == "CERTIFICATE":
			certs = append(certs, b.Bytes)
		case strings.HasSuffix(b.Type, "PRIVATE KEY"):
			if key != nil {
				return tls.Certificate{}, fmt.Errorf("%s holds more than one private key", path)
			}
			if key, err = parseKey(b, password); err != nil {
				return tls.Certificate{}, fmt.Errorf("%s: private key: %w", path, err)
			}
		}
	}
	if len(certs) == 0 || key == nil {
		return tls.Certificate{}, fmt.Errorf("%s: want a PEM file with the certificate and its private key (found %d certificates, key %t)", path, len(certs), key != nil)
	}
	// The certificate of the key goes first, the rest of the chain after it.
	for i, der := range certs {
		c, err := x509.ParseCertificate(der)
		if err != nil {
			return tls.Certificate{}, fmt.Errorf("%s: certificate %d: %w", path, i+1, err)
		}
		if matches(c.PublicKey, key) {
			chain := append([][]byte{der}, slices.Delete(slices.Clone(certs), i, i+1)...)
			return tls.Certificate{Certificate: chain, PrivateKey: key, Leaf: c}, nil
		}
	}
	return tls.Certificate{}, fmt.Errorf("%s: no certificate matches the private key", path)
}

func matches(pub crypto.PublicKey, key any) bool {
	p, ok := pub.(interface{ Equal(crypto.PublicKey) bool })
	signer, ok2 := key.(crypto.Signer)
	return ok && ok2 && p.Equal(signer.Public())
}

func parseKey(b *pem.Block, password string) (any, error) {
	der := b.Bytes
	//nolint:staticcheck // legacy PEM encryption is what `openssl genrsa -des3` and older Splunk docs produce
	if x509.IsEncryptedPEMBlock(b) {
		var err error
		//nolint:staticcheck // see above
		if der, err = x509.DecryptPEMBlock(b, []byte(password)); err != nil {
			return nil, fmt.Errorf("decrypt with sslPassword: %w", err)
		}
	}
	switch b.Type {
	case "ENCRYPTED PRIVATE KEY":
		k, err := pkcs8.ParsePKCS8PrivateKey(der, []byte(password))
		if err != nil {
			return nil, fmt.Errorf("decrypt with sslPassword: %w", err)
		}
		return k, nil
	case "RSA PRIVATE KEY":
		return x509.ParsePKCS1PrivateKey(der)
	case "EC PRIVATE KEY":
		return x509.ParseECPrivateKey(der)
	default:
		return x509.ParsePKCS8PrivateKey(der)
	}
}

// LoadCAs reads a PEM file of one or more CA certificates.
func LoadCAs(path string) (*x509.CertPool, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(data) {
		return nil, fmt.Errorf("%s: no PEM certificate in it", path)
	}
	return pool, nil
}

// ParseVersions reads sslVersions: a comma-separated list of "ssl3", "tls1.0", "tls1.1",
// "tls1.2", "tls1.3", "tls" (every TLS version) and "*" (every version), each optionally
// prefixed with "-" to remove it, applied left to right. "ssl2" is accepted and means nothing,
// as in Splunk; SSLv3 cannot be served (Go has no SSLv3) and is dropped. The result must be a
// contiguous range of TLS versions. Empty means TLS 1.2 and 1.3.
func ParseVersions(v string) (lo, hi uint16, err error) {
	if strings.TrimSpace(v) == "" {
		return tls.VersionTLS12, tls.VersionTLS13, nil
	}
	tlsVersions := []uint16{tls.VersionTLS10, tls.VersionTLS11, tls.VersionTLS12, tls.VersionTLS13}
	names := map[string][]uint16{
		"tls1.0": {tls.VersionTLS10}, "tls1.1": {tls.VersionTLS11}, "tls1.2": {tls.VersionTLS12},
		"tls1.3": {tls.VersionTLS13}, "tls": tlsVersions, "*": tlsVersions, "ssl3": nil, "ssl2": nil,
	}
	on := map[uint16]bool{}
	for _, f := range strings.Split(v, ",") {
		f = strings.ToLower(strings.TrimSpace(f))
		if f == "" {
			continue
		}
		remove := strings.HasPrefix(f, "-")
		vs, ok := names[strings.TrimPrefix(f, "-")]
		if !ok {
			return 0, 0, fmt.Errorf("unknown version %q (want ssl3, tls1.0, tls1.1, tls1.2, tls1.3, tls or *)", f)
		}
		for _, x := range vs {
			on[x] = !remove
		}
	}
	for _, x := range tlsVersions {
		if on[x] {
			if lo == 0 {
				lo = x
			}
			if hi != 0 && hi != x-1 {
				return 0, 0, fmt.Errorf("the versions left are not a contiguous range, which Go's TLS cannot serve")
			}
			hi = x
		}
	}
	if lo == 0 {
		return 0, 0, fmt.Errorf("no TLS version left (SSLv3 is not supported)")
	}
	return lo, hi, nil
}
