package detections

import (
	"context"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hecrisk/hecrisk/detections/knowledge"
	"github.com/hecrisk/hecrisk/detections/spl"
	"github.com/hecrisk/hecrisk/hec/indextime"
	"github.com/hecrisk/hecrisk/internal/fixtures"
	"github.com/hecrisk/hecrisk/store"
)

// ingestDataset replays one ESCU dataset file the way contentctl does: the file is sent as raw
// data with the test's sourcetype and source, broken into lines and time-stamped by the
// TA-ollama index-time props.
func ingestDataset(t *testing.T, st *store.Store, p *indextime.Pipeline, file, sourcetype, source string) int {
	t.Helper()
	body, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("read dataset: %v", err)
	}
	now := time.Date(2025, 10, 5, 0, 0, 0, 0, time.UTC)
	evs, err := p.Raw(body, indextime.Meta{Index: "main", Host: "attack_range", Source: source, Sourcetype: sourcetype}, now)
	if err != nil {
		t.Fatalf("index-time processing of %s: %v", file, err)
	}
	if err := st.Append(context.Background(), evs); err != nil {
		t.Fatalf("append %s: %v", file, err)
	}
	return len(evs)
}

func formatRows(fields []string, rows []spl.Row) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# fields: %s\n# rows: %d\n", strings.Join(fields, ", "), len(rows))
	for i := range rows {
		fmt.Fprintf(&b, "## row %d\n", i)
		names := fields
		if len(names) == 0 {
			names = rows[i].Names()
		}
		for _, n := range names {
			v := rows[i].Get(n)
			if v.IsNull() {
				fmt.Fprintf(&b, "%s=null\n", n)
				continue
			}
			fmt.Fprintf(&b, "%s=%q\n", n, v.Values())
		}
	}
	return b.String()
}

// TestESCUUnitTests runs each upstream YAML, unmodified, over all time on its ESCU test
// dataset and keeps the results as golden files. The datasets' GIN lines carry no zone (the
// attack range ran at UTC-4); the run must give the reference rows however the zone is
// given, with or without TA-ollama installed over the built-in knowledge:
//
//   - "--tz": the server's default zone is America/New_York (what `serve --tz` sets);
//   - "props.conf": the server runs in UTC and a local props.conf holds only
//     [ollama:server] TZ = America/New_York. Layered setting by setting, it changes the zone
//     and nothing else; before issue 12 it replaced the whole built-in stanza and two
//     detections returned nothing.
//
// Configuration is loaded as every hecrisk command loads it (knowledge.BuiltinLayers: conf
// dir over the apps over the built-in app) and feeds both index time and search time. The
// zone results are shown in (strftime in the searches) is America/New_York in every case,
// as the reference was rendered.
func TestESCUUnitTests(t *testing.T) {
	escu := fixtures.Testdata(t, "escu")
	samples := fixtures.Testdata(t, "samples", "escu-attack-data")
	ta := fixtures.Testdata(t, "ta-ollama", "v0.1.5")
	newYork, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Fatalf("tzdata: %v", err)
	}

	cat, errs := LoadCatalog(CatalogOptions{NoBuiltin: true, Dirs: []string{filepath.Join(escu, "detections", "application"), filepath.Join(escu, "macros")}})
	if len(errs) > 0 {
		t.Fatalf("load upstream: %v", errs)
	}
	localProps := t.TempDir()
	if err := os.WriteFile(filepath.Join(localProps, "props.conf"), []byte("[ollama:server]\nTZ = America/New_York\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, combo := range []struct {
		name      string
		confDir   string
		apps      []string
		defaultTZ *time.Location
	}{
		{"--tz", "", nil, newYork},
		{"--tz+TA-ollama", "", []string{ta}, newYork},
		{"props.conf", localProps, nil, time.UTC},
		{"props.conf+TA-ollama", localProps, []string{ta}, time.UTC},
	} {
		t.Run(combo.name, func(t *testing.T) {
			props, transforms, err := knowledge.LoadPropsTransforms(knowledge.BuiltinLayers(combo.confDir, combo.apps))
			if err != nil {
				t.Fatal(err)
			}
			pipe, err := indextime.New(indextime.Options{Props: props, Transforms: transforms, DefaultTZ: combo.defaultTZ})
			if err != nil {
				t.Fatal(err)
			}
			kn, err := knowledge.New(knowledge.Options{Props: props, Transforms: transforms})
			if err != nil {
				t.Fatal(err)
			}
			runESCUUnitTests(t, cat, samples, pipe, kn, newYork)
		})
	}
}

func runESCUUnitTests(t *testing.T, cat *Catalog, samples string, pipe *indextime.Pipeline, kn *knowledge.Knowledge, loc *time.Location) {
	// One store per dataset: contentctl replays only the test's own data for each detection.
	stores := map[string]*store.Store{}
	dataset := func(a AttackData) *store.Store {
		key := a.Sourcetype + "|" + a.Source + "|" + path.Base(a.Data)
		if st, ok := stores[key]; ok {
			return st
		}
		// The attack data is from 2025; the default one-year risk retention would expire its
		// risk events on write.
		st, err := store.Open(store.Options{Dir: t.TempDir(), Retention: map[string]time.Duration{"risk": 0}})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		n := ingestDataset(t, st, pipe, filepath.Join(samples, path.Base(a.Data)), a.Sourcetype, a.Source)
		t.Logf("dataset %s: %d events", path.Base(a.Data), n)
		stores[key] = st
		return st
	}

	slot := time.Date(2025, 10, 5, 0, 0, 0, 0, time.UTC)
	for _, d := range cat.All() {
		t.Run(d.slug(), func(t *testing.T) {
			if len(d.Tests) == 0 || len(d.Tests[0].AttackData) == 0 {
				t.Fatalf("%s has no test dataset", d.Name)
			}
			st := dataset(d.Tests[0].AttackData[0])
			r := NewRunner(RunnerOptions{Store: st, Knowledge: kn, Catalog: cat, Loc: loc})
			// contentctl runs the test search over all time.
			allTime := *d
			allTime.Earliest, allTime.Latest = "0", ""
			res := r.RunSlot(context.Background(), slot, []*Detection{&allTime}, nil, false)[0]
			if res.Err != nil {
				t.Fatalf("run: %v", res.Err)
			}
			// The reference runs read every field they need: no coverage warning.
			if len(res.Warnings) > 0 {
				t.Errorf("warnings on the reference run: %q", res.Warnings)
			}
			var b strings.Builder
			b.WriteString(formatRows(res.Fields, res.Rows))
			fmt.Fprintf(&b, "# risk events: %d\n", len(res.Risk))
			for _, ev := range res.Risk {
				fmt.Fprintf(&b, "risk %s=%q score=%v time=%s message=%q\n", ev.RiskObjectType, ev.RiskObject, ev.RiskScore,
					time.Unix(0, ev.Time).UTC().Format(time.RFC3339), fieldValue(ev.Fields, "risk_message"))
			}
			checkGolden(t, filepath.Join("testdata", "escu", d.slug()+".golden"), b.String())

			// The risk events are in the Risk store, and a rerun of the slot replaces them.
			again := r.RunSlot(context.Background(), slot, []*Detection{&allTime}, nil, false)[0]
			if again.Err != nil {
				t.Fatal(again.Err)
			}
			n := 0
			if err := st.ScanRisk(context.Background(), 0, 0, func(ev *store.RiskEvent) error {
				if ev.SearchName == d.SavedSearchName() {
					n++
				}
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			if n != len(res.Risk) {
				t.Errorf("risk store holds %d events of %s after a rerun, want %d", n, d.SavedSearchName(), len(res.Risk))
			}
		})
	}
}

func fieldValue(fs []store.Field, name string) string {
	for _, f := range fs {
		if f.Name == name {
			return strings.Join(f.Values, "\n")
		}
	}
	return ""
}
