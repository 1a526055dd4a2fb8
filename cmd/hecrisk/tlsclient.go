package main

import (
	"crypto/tls"
	"fmt"
	"net/http"
	"time"

	"github.com/spf13/pflag"

	"github.com/hecrisk/hecrisk/internal/tlsconf"
)

// tlsFlags are the client-side TLS flags of the commands that talk to a server over HTTPS.
type tlsFlags struct {
	caFile     string
	insecure   bool
	clientCert string
}

func (f *tlsFlags) register(fs *pflag.FlagSet, insecureHelp string) {
	fs.StringVar(&f.caFile, "ca-file", "", "PEM file of the CA certificates to trust for https:// URLs (default: the system's)")
	fs.BoolVar(&f.insecure, "insecure", false, insecureHelp)
	fs.StringVar(&f.clientCert, "client-cert", "", "PEM file with a client certificate and its private key, for servers that require one (requireClientCert)")
}

// config returns the client TLS configuration, or nil when no flag asks for one.
func (f *tlsFlags) config() (*tls.Config, error) {
	if f.caFile == "" && !f.insecure && f.clientCert == "" {
		return nil, nil
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if f.insecure {
		cfg.InsecureSkipVerify = true //nolint:gosec // asked for by the user (self-signed certificates)
	}
	if f.caFile != "" {
		pool, err := tlsconf.LoadCAs(f.caFile)
		if err != nil {
			return nil, fmt.Errorf("%w: --ca-file: %v", errUsage, err)
		}
		cfg.RootCAs = pool
	}
	if f.clientCert != "" {
		cert, err := tlsconf.LoadCertificate(f.clientCert, "")
		if err != nil {
			return nil, fmt.Errorf("%w: --client-cert: %v", errUsage, err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return cfg, nil
}

// client returns an HTTP client with the TLS configuration (http.DefaultClient without one).
func (f *tlsFlags) client(timeout time.Duration) (*http.Client, error) {
	cfg, err := f.config()
	if err != nil || cfg == nil {
		return http.DefaultClient, err
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = cfg
	return &http.Client{Transport: tr, Timeout: timeout}, nil
}
