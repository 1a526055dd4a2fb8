package store

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/hecrisk/hecrisk/internal/conf"
)

func TestRetentionFromIndexes(t *testing.T) {
	day := 24 * time.Hour
	tests := []struct {
		name    string
		text    string
		want    map[string]time.Duration
		wantErr string
	}{
		{"empty", "", map[string]time.Duration{"": SplunkDefaultFrozen}, ""},
		{"per index and default", "[default]\nfrozenTimePeriodInSecs = 864000\n[main]\n[ollama]\nfrozenTimePeriodInSecs = 86400\n[risk]\nfrozenTimePeriodInSecs=31536000\n",
			map[string]time.Duration{"": 10 * day, "main": 10 * day, "ollama": day, "risk": 365 * day}, ""},
		{"no default stanza", "[ollama]\nhomePath = x\n", map[string]time.Duration{"": SplunkDefaultFrozen, "ollama": SplunkDefaultFrozen}, ""},
		{"zero keeps forever", "[ollama]\nfrozenTimePeriodInSecs = 0\n", map[string]time.Duration{"": SplunkDefaultFrozen, "ollama": 0}, ""},
		{"bad value", "[ollama]\nfrozenTimePeriodInSecs = 10d\n", nil, "indexes.conf:2: [ollama] frozenTimePeriodInSecs"},
		{"negative", "[ollama]\nfrozenTimePeriodInSecs = -1\n", nil, "indexes.conf:2:"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f, err := conf.ParseString("indexes.conf", tc.text)
			if err != nil {
				t.Fatal(err)
			}
			got, err := RetentionFromIndexes(conf.Merge(f))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want it to contain %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
		})
	}
}
