package main

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/hecrisk/hecrisk/web/api"
)

// remoteFlags point an offline command at a running server instead of a data dir.
type remoteFlags struct {
	server string
	token  string
	tls    tlsFlags
}

func (r *remoteFlags) register(fs *pflag.FlagSet) {
	fs.StringVar(&r.server, "server", "", "URL of a running hecrisk's API address (e.g. http://127.0.0.1:8089); default: open --data directly")
	fs.StringVar(&r.token, "token", "", "API token for --server")
	r.tls.register(fs, "skip TLS certificate verification of an https:// --server")
}

func (r *remoteFlags) do(ctx context.Context, method, path string, form url.Values) (*http.Response, error) {
	if r.token == "" {
		return nil, fmt.Errorf("%w: --server needs --token", errUsage)
	}
	u := strings.TrimRight(r.server, "/") + path
	var body io.Reader
	if method == http.MethodPost && form != nil {
		body = strings.NewReader(form.Encode())
	} else if form != nil {
		u += "?" + form.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	req.Header.Set("Authorization", "Bearer "+r.token)
	client, err := r.tls.client(0)
	if err != nil {
		return nil, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode/100 != 2 {
		defer resp.Body.Close()
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		return nil, fmt.Errorf("%s %s: %s: %s", method, path, resp.Status, strings.TrimSpace(string(msg)))
	}
	return resp, nil
}

func runSearch(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var b baseFlags
	var r remoteFlags
	fs := newFlagSet("search", stderr)
	b.register(fs)
	r.register(fs)
	earliest := fs.String("earliest", "", "earliest time modifier (e.g. -24h@h, 0 for all time); default: the search's own or all time")
	latest := fs.String("latest", "", "latest time modifier (e.g. now, @h)")
	output := fs.String("output", "table", "json, csv or table")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: hecrisk search [flags] 'SPL'")
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return fmt.Errorf("%w: want exactly one SPL argument, got %d", errUsage, fs.NArg())
	}
	query := fs.Arg(0)
	w, err := newRowWriter(stdout, *output)
	if err != nil {
		return err
	}
	if r.server != "" {
		err = remoteSearch(ctx, &r, query, *earliest, *latest, w)
	} else {
		err = localSearch(ctx, &b, stderr, query, *earliest, *latest, w)
	}
	if cerr := w.Close(); err == nil {
		err = cerr
	}
	return err
}

func localSearch(ctx context.Context, b *baseFlags, stderr io.Writer, query, earliest, latest string, w rowWriter) error {
	if b.logLevel == "info" {
		b.logLevel = "warn" // keep the terminal for results
	}
	sys, err := openSystem(b, stderr, systemOptions{})
	if err != nil {
		return err
	}
	defer sys.Close()
	// Whoever can open the data dir can delete its files: | delete is allowed here.
	return sys.Search(ctx, api.SearchRequest{Search: query, Earliest: earliest, Latest: latest, CanDelete: true,
		Warn: func(text string) { fmt.Fprintln(stderr, "warning:", text) }}, w.Row)
}

// remoteSearch uses Splunk's export endpoint in CSV mode, which keeps the column order.
func remoteSearch(ctx context.Context, r *remoteFlags, query, earliest, latest string, w rowWriter) error {
	// The REST endpoint wants an explicit command, as Splunk's does; the CLI, like Splunk's own,
	// takes a bare search.
	if t := strings.TrimSpace(query); !strings.HasPrefix(t, "|") && !strings.HasPrefix(strings.ToLower(t), "search ") {
		query = "search " + t
	}
	form := url.Values{"search": {query}, "output_mode": {"csv"}}
	if earliest != "" {
		form.Set("earliest_time", earliest)
	}
	if latest != "" {
		form.Set("latest_time", latest)
	}
	resp, err := r.do(ctx, http.MethodPost, "/services/search/jobs/export", form)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	cr := csv.NewReader(resp.Body)
	cr.FieldsPerRecord = -1
	header, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read export: %w", err)
	}
	values := map[string][]string{}
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read export: %w", err)
		}
		clear(values)
		for i, f := range header {
			if i < len(rec) && rec[i] != "" {
				values[f] = strings.Split(rec[i], "\n")
			}
		}
		if err := w.Row(header, values); err != nil {
			return err
		}
	}
}

// parseAt resolves a --at/--earliest style argument: a Splunk time modifier, epoch or ISO 8601.
func parseAt(s string, loc *time.Location) (time.Time, error) {
	t, err := parseModifier(s, time.Now(), loc)
	if err != nil {
		return time.Time{}, fmt.Errorf("%w: time %q: %v", errUsage, s, err)
	}
	return t, nil
}
