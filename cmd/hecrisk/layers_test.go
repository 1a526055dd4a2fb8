package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/hecrisk/hecrisk/detections"
	"github.com/hecrisk/hecrisk/hec"
)

// TestEveryConfFileLayersSettingBySetting: for each file hecrisk reads, an app's default/ sets
// some settings of a stanza, its local/ and the conf dir set others (or the same), and what the
// consumers see is the setting-by-setting merge: a higher layer naming a stanza never drops
// the settings it does not set.
func TestEveryConfFileLayersSettingBySetting(t *testing.T) {
	dir := t.TempDir()
	app := filepath.Join(dir, "TA-test")
	confDir := filepath.Join(dir, "local")
	const scanName = "ESCU - Ollama Possible API Endpoint Scan Reconnaissance - Rule"
	files := map[string]string{
		"TA-test/default/inputs.conf":        "[http://ollama]\ntoken = 11111111-2222-3333-4444-555555555555\nsourcetype = ollama:server\nindex = main\n",
		"local/inputs.conf":                  "[http://ollama]\nuseACK = true\n",
		"TA-test/default/limits.conf":        "[kv]\nlimit = 50\nmaxchars = 100\n[http_input]\nmax_content_length = 1MB\nmax_number_of_ack_channel = 5\n",
		"local/limits.conf":                  "[kv]\nmaxchars = 200\n[http_input]\nmax_number_of_ack_channel = 7\n",
		"TA-test/default/server.conf":        "[api]\ntoken = from-app\n",
		"TA-test/local/server.conf":          "[api]\ntoken = from-app-local\n",
		"TA-test/default/savedsearches.conf": "[" + scanName + "]\ncron_schedule = 5 * * * *\ndispatch.earliest_time = -2h@h\n",
		"local/savedsearches.conf":           "[" + scanName + "]\ndisabled = 1\n",
		"TA-test/default/macros.conf":        "[my_filter]\ndefinition = search host=a\n",
		"TA-test/local/macros.conf":          "[my_filter]\ndefinition = search host=b\n",
		"TA-test/default/transforms.conf":    "[t]\nREGEX = (x)\nFORMAT = a::$1\n",
		"local/transforms.conf":              "[t]\nFORMAT = b::$1\n",
		"TA-test/default/indexes.conf":       "[ollama]\nfrozenTimePeriodInSecs = 86400\n",
		"local/indexes.conf":                 "[other]\nfrozenTimePeriodInSecs = 60\n",
	}
	for name, text := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cs, err := loadConfSet(confDir, []string{app})
	if err != nil {
		t.Fatal(err)
	}

	settings, err := hec.LoadSettings(cs.inputs, cs.limits)
	if err != nil {
		t.Fatal(err)
	}
	tok := settings.Tokens[0]
	limit, maxChars := kvLimits(cs.limits)
	cat, errs := detections.LoadCatalog(detections.CatalogOptions{SavedSearchesConf: cs.savedsearches})
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	scan, _ := cat.Lookup("Ollama Possible API Endpoint Scan Reconnaissance")
	macros, err := cat.MacroSet(cs.macros)
	if err != nil {
		t.Fatal(err)
	}
	myFilter, _, _ := macros.Macro("my_filter", 0)
	apiToken, _ := cs.server.Get("api", "token")
	regex, _ := cs.transforms.Get("t", "REGEX")
	format, _ := cs.transforms.Get("t", "FORMAT")
	appFrozen, _ := cs.indexes.Get("ollama", "frozenTimePeriodInSecs")

	for _, c := range []struct {
		what      string
		got, want any
	}{
		{"inputs.conf token from the app", tok.Value, "11111111-2222-3333-4444-555555555555"},
		{"inputs.conf sourcetype from the app", tok.Sourcetype, "ollama:server"},
		{"inputs.conf useACK from the conf dir", tok.UseACK, true},
		{"limits.conf [kv] limit from the app", limit, 50},
		{"limits.conf [kv] maxchars from the conf dir", maxChars, 200},
		{"limits.conf [http_input] max_content_length from the app", settings.MaxContentLength, int64(1 << 20)},
		{"limits.conf [http_input] ack channels from the conf dir", settings.Ack.MaxChannels, 7},
		{"server.conf: the app's local/ over its default/", apiToken, "from-app-local"},
		{"savedsearches.conf cron from the app", scan.Cron, "5 * * * *"},
		{"savedsearches.conf earliest from the app", scan.Earliest, "-2h@h"},
		{"savedsearches.conf disabled from the conf dir", scan.Disabled, true},
		{"macros.conf: local/ definition", myFilter, "search host=b"},
		{"transforms.conf REGEX from the app", regex, "(x)"},
		{"transforms.conf FORMAT from the conf dir", format, "b::$1"},
		{"indexes.conf: a stanza only the app has", appFrozen, "86400"},
	} {
		if c.got != c.want {
			t.Errorf("%s: got %v, want %v", c.what, c.got, c.want)
		}
	}
}
