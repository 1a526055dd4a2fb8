package e2e

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/youmark/pkcs8"
)

// testCA is a certificate authority made up for one test, with helpers that write Splunk-style
// PEM files (certificate, private key and chain in one file).
type testCA struct {
	t    *testing.T
	dir  string
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  []byte
}

func newTestCA(t *testing.T) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "hecrisk e2e CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	ca := &testCA{t: t, dir: t.TempDir(), cert: cert, key: key,
		pem: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
	ca.write("ca.pem", ca.pem)
	return ca
}

func (ca *testCA) write(name string, data []byte) string {
	p := filepath.Join(ca.dir, name)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		ca.t.Fatal(err)
	}
	return p
}

func (ca *testCA) path(name string) string { return filepath.Join(ca.dir, name) }

// keyForm says how issue writes the private key.
type keyForm int

const (
	keyPKCS8Encrypted  keyForm = iota // "ENCRYPTED PRIVATE KEY" (openssl 3 genrsa -aes256)
	keyLegacyEncrypted                // RSA with "Proc-Type: 4,ENCRYPTED" (openssl 1.x genrsa -des3)
	keyClear                          // "PRIVATE KEY"
)

// issue writes name: a certificate for cn (server certificates name 127.0.0.1), its private
// key in the given form (encrypted with password), and the CA certificate as the chain.
func (ca *testCA) issue(name, cn string, server bool, form keyForm, password string) string {
	t := ca.t
	t.Helper()
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
	}
	if server {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		tmpl.IPAddresses = []net.IP{net.ParseIP("127.0.0.1")}
	} else {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
		tmpl.DNSNames = []string{cn}
	}
	var pub any
	var keyBlock *pem.Block
	switch form {
	case keyLegacyEncrypted:
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			t.Fatal(err)
		}
		pub = &k.PublicKey
		//nolint:staticcheck // the legacy form is what older openssl and Splunk docs produce
		keyBlock, err = x509.EncryptPEMBlock(rand.Reader, "RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(k), []byte(password), x509.PEMCipherAES256)
		if err != nil {
			t.Fatal(err)
		}
	default:
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		pub = &k.PublicKey
		if form == keyClear {
			der, _ := x509.MarshalPKCS8PrivateKey(k)
			keyBlock = &pem.Block{Type: "PRIVATE KEY", Bytes: der}
		} else {
			der, err := pkcs8.MarshalPrivateKey(k, []byte(password), nil)
			if err != nil {
				t.Fatal(err)
			}
			keyBlock = &pem.Block{Type: "ENCRYPTED PRIVATE KEY", Bytes: der}
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, pub, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	pem.Encode(&out, &pem.Block{Type: "CERTIFICATE", Bytes: der})
	pem.Encode(&out, keyBlock)
	out.Write(ca.pem)
	return ca.write(name, out.Bytes())
}

// clientFor returns an HTTP client trusting the CA, presenting cert (a PEM from issue) if set.
func (ca *testCA) clientFor(cert string) *http.Client {
	pool := x509.NewCertPool()
	pool.AddCert(ca.cert)
	cfg := &tls.Config{RootCAs: pool}
	if cert != "" {
		c, err := tls.LoadX509KeyPair(cert, cert)
		if err != nil {
			ca.t.Fatal(err)
		}
		cfg.Certificates = []tls.Certificate{c}
	}
	return &http.Client{Timeout: time.Minute, Transport: &http.Transport{TLSClientConfig: cfg}}
}

// replay runs `hecrisk replay` (a real HEC client, as a child process) and returns its output.
func replay(t *testing.T, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, hecriskBin, append([]string{"replay"}, args...)...).CombinedOutput()
	return string(out), err
}

// TestTLSFromSplunkSettings (issue 11, row 11): HEC over TLS from inputs.conf [http] enableSSL,
// serverCert (certificate, encrypted key and chain in one PEM), sslPassword and sslVersions, and
// the API from server.conf [sslConfig] enableSplunkdSSL and serverCert. `hecrisk replay` sends
// over HTTPS trusting the CA (or with --insecure), and is refused without either.
func TestTLSFromSplunkSettings(t *testing.T) {
	t.Parallel()
	ca := newTestCA(t)
	hecCert := ca.issue("hec.pem", "hecrisk-hec", true, keyPKCS8Encrypted, "hec secret")
	apiCert := ca.issue("api.pem", "hecrisk-api", true, keyLegacyEncrypted, "api-secret")
	s := startServer(t, serverOptions{
		Inputs:     "[http]\nenableSSL = 1\nserverCert = " + hecCert + "\nsslPassword = hec secret\nsslVersions = *,-ssl2,-tls1.0,-tls1.1\n",
		ServerConf: "[sslConfig]\nenableSplunkdSSL = true\nserverCert = " + apiCert + "\nsslPassword = api-secret\n",
		HECClient:  ca.clientFor(""), APIClient: ca.clientFor(""), HECScheme: "https", APIScheme: "https",
		RemoteArgs: []string{"--ca-file", ca.path("ca.pem")},
	})
	lines := filepath.Join(t.TempDir(), "lines.log")
	if err := os.WriteFile(lines, []byte("tls line one tlsmark\ntls line two tlsmark\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, extra := range [][]string{{"--ca-file", ca.path("ca.pem")}, {"--insecure"}} {
		out, err := replay(t, append([]string{"--url", s.hecURL, "--token", tokPlain, "--sourcetype", "tlstest"}, append(extra, lines)...)...)
		if err != nil || !strings.Contains(out, "replayed 2 events") {
			t.Fatalf("replay %v over HTTPS: %v\n%s", extra, err, out)
		}
	}
	if out, err := replay(t, "--url", s.hecURL, "--token", tokPlain, lines); err == nil || !strings.Contains(out, "certificate") {
		t.Errorf("replay without the CA should fail on the certificate: %v\n%s", err, out)
	}
	if rows := s.search(t, "tlsmark | stats count", "--earliest", "-1h"); len(rows) != 1 || str(rows[0], "count") != "4" {
		t.Errorf("events sent over TLS: %v", rows)
	}
	// sslVersions removed TLS 1.0 and 1.1.
	old := &tls.Config{RootCAs: ca.clientFor("").Transport.(*http.Transport).TLSClientConfig.RootCAs, MaxVersion: tls.VersionTLS11}
	if c, err := tls.Dial("tcp", hostPort(s.hecURL), old); err == nil {
		c.Close()
		t.Error("a TLS 1.1 client was accepted though sslVersions removed it")
	}
	// Plain HTTP on the TLS port gets no HEC answer.
	if res, err := http.Get("http://" + hostPort(s.hecURL) + "/services/collector/health"); err == nil && res.StatusCode == 200 {
		t.Error("plain HTTP was served on the TLS port")
	}
	assertServing(t, s)
}

// TestTLSMutual: with requireClientCert and server.conf [sslConfig] sslRootCAPath, a client
// without a certificate is refused in the handshake, one with a certificate from the CA is
// served, and sslCommonNameToCheck narrows which certificates are accepted.
func TestTLSMutual(t *testing.T) {
	t.Parallel()
	ca := newTestCA(t)
	hecCert := ca.issue("hec.pem", "hecrisk-hec", true, keyClear, "")
	good := ca.issue("forwarder.pem", "forwarder-01", false, keyClear, "")
	other := ca.issue("other.pem", "someone-else", false, keyClear, "")
	s := startServer(t, serverOptions{
		Inputs:     "[http]\nserverCert = " + hecCert + "\nrequireClientCert = true\nsslCommonNameToCheck = forwarder-01\n",
		ServerConf: "[sslConfig]\nsslRootCAPath = " + ca.path("ca.pem") + "\n",
		HECClient:  ca.clientFor(good), HECScheme: "https",
	})
	lines := filepath.Join(t.TempDir(), "lines.log")
	if err := os.WriteFile(lines, []byte("mtls line mtlsmark\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	base := []string{"--url", s.hecURL, "--token", tokPlain, "--ca-file", ca.path("ca.pem")}
	if out, err := replay(t, append(base, lines)...); err == nil {
		t.Errorf("replay without a client certificate was served:\n%s", out)
	} else {
		t.Logf("without a client certificate: %s", lastLine(out))
	}
	if out, err := replay(t, append(base, "--client-cert", other, lines)...); err == nil {
		t.Errorf("a client certificate for another name was served:\n%s", out)
	}
	if out, err := replay(t, append(base, "--client-cert", good, lines)...); err != nil || !strings.Contains(out, "replayed 1 events") {
		t.Fatalf("replay with the forwarder's certificate: %v\n%s", err, out)
	}
	if rows := s.search(t, "mtlsmark | stats count", "--earliest", "-1h"); len(rows) != 1 || str(rows[0], "count") != "1" {
		t.Errorf("events sent over mutual TLS: %v", rows)
	}
	assertServing(t, s)
}

// TestTLSRefusedSettings: TLS settings hecrisk cannot honour stop the start with the file and
// line, instead of serving plain HTTP.
func TestTLSRefusedSettings(t *testing.T) {
	t.Parallel()
	ca := newTestCA(t)
	cert := ca.issue("hec.pem", "hecrisk-hec", true, keyPKCS8Encrypted, "right")
	tests := []struct{ name, inputs, server, want string }{
		{"enableSSL without a certificate", "[http]\nenableSSL = 1\n", "", "serverCert is not set"},
		{"wrong sslPassword", "[http]\nserverCert = " + cert + "\nsslPassword = wrong\n", "", "sslPassword"},
		{"encrypted sslPassword", "[http]\nserverCert = " + cert + "\nsslPassword = $7$abcdef\n", "", "splunk.secret"},
		{"only SSLv3", "[http]\nserverCert = " + cert + "\nsslPassword = right\nsslVersions = ssl3\n", "", "no TLS version"},
		{"client certs without a CA", "[http]\nserverCert = " + cert + "\nsslPassword = right\nrequireClientCert = true\n", "", "sslRootCAPath"},
		{"API certificate missing", "", "[sslConfig]\nenableSplunkdSSL = true\nserverCert = /nonexistent.pem\n", "nonexistent.pem"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			confDir := writeConf(t, "", map[string]string{"inputs.conf": "\n" + tc.inputs + "\n", "server.conf": "\n" + tc.server + "\n"})
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			out, err := exec.CommandContext(ctx, hecriskBin, "serve", "--data", t.TempDir(), "--conf-dir", confDir,
				"--hec-addr", freePort(t), "--api-addr", freePort(t), "--no-scheduler").CombinedOutput()
			if err == nil || ctx.Err() != nil || !strings.Contains(string(out), tc.want) {
				t.Fatalf("serve: %v (want a failed start naming %q):\n%s", err, tc.want, out)
			}
		})
	}
}

// TestPlainHECBeyondLoopbackWarns: the zero-config start serves plain HTTP and says so at start
// when HEC listens beyond loopback.
func TestPlainHECBeyondLoopbackWarns(t *testing.T) {
	t.Parallel()
	s := startServer(t, serverOptions{HECHost: "0.0.0.0"})
	if !strings.Contains(s.log(), "HEC listens beyond loopback without TLS") {
		t.Fatalf("no warning for plain HEC on 0.0.0.0:\n%s", s.log())
	}
}
