package indextime

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/hecrisk/hecrisk/internal/fixtures"
)

// BenchmarkRawESCU measures /raw processing of the ESCU server.log with TA-ollama props
// (line breaking, GIN/slog timestamps, two SEDCMD redactions per line).
func BenchmarkRawESCU(b *testing.B) {
	shared := fixtures.Testdata(b)
	body, err := os.ReadFile(filepath.Join(shared, "samples", "escu-attack-data", "server.log"))
	if err != nil {
		b.Fatal(err)
	}
	p := taPipeline(b, shared, time.UTC)
	now := time.Date(2025, 10, 1, 12, 0, 0, 0, time.UTC)
	meta := Meta{Index: "main", Host: "h", Source: "server.log", Sourcetype: "ollama:server"}
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		if _, err := p.Raw(body, meta, now); err != nil {
			b.Fatal(err)
		}
	}
}
