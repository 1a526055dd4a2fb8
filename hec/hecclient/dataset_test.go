package hecclient

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestLoadDatasetESCU(t *testing.T) {
	yml := sample(t, "escu-attack-data/ollama_server_data.yml")
	dir := filepath.Dir(yml)
	inputs, err := LoadDataset(yml)
	if err != nil {
		t.Fatal(err)
	}
	want := []Input{
		{Path: filepath.Join(dir, "server.log"), Sourcetype: "ollama:server", Source: "server.log"},
		{Path: filepath.Join(dir, "app.log"), Sourcetype: "ollama:server", Source: "app.log"},
	}
	if len(inputs) != len(want) {
		t.Fatalf("inputs = %+v", inputs)
	}
	for i := range want {
		if inputs[i] != want[i] {
			t.Errorf("input %d = %+v, want %+v", i, inputs[i], want[i])
		}
	}

	// Replay the whole dataset: one shift for both files, metadata per file.
	f := &fakeHEC{}
	base := startFake(t, f)
	rebaseTo := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
	sum, err := ReplayInputs(context.Background(), inputs, ReplayOptions{
		URL: base, Token: f.token, RebaseTo: rebaseTo, BatchEvents: 1000, Loc: mustLoc(t, "America/New_York"),
	})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Files != 2 {
		t.Fatalf("summary %+v", sum)
	}
	sources := map[string]int{}
	for _, r := range f.recorded() {
		if r.Query.Get("sourcetype") != "ollama:server" {
			t.Errorf("sourcetype = %q", r.Query.Get("sourcetype"))
		}
		sources[r.Query.Get("source")]++
	}
	if sources["server.log"] == 0 || sources["app.log"] == 0 || len(sources) != 2 {
		t.Errorf("sources = %v", sources)
	}
	// server.log holds the newest stamp overall, a zone-less GIN line, rendered in loc (EST).
	all := ""
	for _, r := range f.recorded() {
		all += r.Body
	}
	if !strings.Contains(all, "[GIN] 2026/11/23 - 04:00:00 |") {
		t.Errorf("the newest GIN line did not land on the rebase target 04:00 EST")
	}
}

func TestLoadDatasetErrors(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	tests := []struct{ name, body, want string }{
		{"empty.yml", "author: x\n", "no datasets"},
		{"missing.yml", "datasets:\n- name: a\n  path: /datasets/x/none.log\n", "not found"},
		{"nopath.yml", "datasets:\n- name: a\n", "no path"},
		{"bad.yml", "datasets: [\n", "dataset"},
	}
	for _, tc := range tests {
		_, err := LoadDataset(write(tc.name, tc.body))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want %q", tc.name, err, tc.want)
		}
	}
}
