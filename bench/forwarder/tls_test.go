package forwarder

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/open-telemetry/opentelemetry-collector-contrib/exporter/splunkhecexporter"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/exporter/exportertest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/hecrisk/hecrisk/bench/internal/proc"
)

// selfSigned writes a self-signed certificate for 127.0.0.1 with its key, Splunk style (one
// PEM file), and returns the file and a pool trusting it.
func selfSigned(t *testing.T) (string, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "hecrisk-bench"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, IsCA: true, BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, _ := x509.MarshalPKCS8PrivateKey(key)
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	path := filepath.Join(t.TempDir(), "server.pem")
	if err := os.WriteFile(path, append(certPEM, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder})...), 0o600); err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(certPEM)
	return path, pool
}

// TestOTelExporterTLS: the splunkhecexporter sends to HEC over TLS (inputs.conf [http]
// enableSSL and serverCert), trusting the server's certificate through its tls.ca_file.
func TestOTelExporterTLS(t *testing.T) {
	cert, pool := selfSigned(t)
	srv, err := proc.Start(proc.Options{Binary: hecriskBin, Dir: t.TempDir(),
		Inputs: "[http]\nenableSSL = 1\nserverCert = " + cert + "\n", HECTLS: &tls.Config{RootCAs: pool}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := srv.Stop(); err != nil {
			t.Errorf("stop hecrisk: %v\n%s", err, srv.Log())
		}
	})
	f := splunkhecexporter.NewFactory()
	cfg := f.CreateDefaultConfig()
	conf := map[string]any{"token": proc.TokenPlain, "endpoint": srv.HEC + "/services/collector",
		"sourcetype": "ollama:server", "index": "oteltls", "tls": map[string]any{"ca_file": cert},
		"sending_queue": map[string]any{"enabled": false}, "retry_on_failure": map[string]any{"enabled": false}}
	if err := confmap.NewFromStringMap(conf).Unmarshal(cfg); err != nil {
		t.Fatal(err)
	}
	exp, err := f.CreateLogs(context.Background(), exportertest.NewNopSettings(f.Type()), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := exp.Start(context.Background(), componenttest.NewNopHost()); err != nil {
		t.Fatal(err)
	}
	defer exp.Shutdown(context.Background())
	const n = 500
	base := time.Now().UTC().Add(-time.Hour).Truncate(time.Second)
	ld := plog.NewLogs()
	recs := ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords()
	for i := 0; i < n; i++ {
		r := recs.AppendEmpty()
		r.SetTimestamp(pcommon.NewTimestampFromTime(base.Add(time.Duration(i) * time.Second)))
		r.Body().SetStr(fmt.Sprintf(`level=INFO msg="over tls" seq=%d`, i))
	}
	if err := exp.ConsumeLogs(context.Background(), ld); err != nil {
		t.Fatalf("ConsumeLogs over TLS: %v\n%s", err, srv.Log())
	}
	if got := readBack(t, srv, "index=oteltls"); len(got) != n {
		t.Fatalf("%d events arrived over TLS, want %d", len(got), n)
	}
}
