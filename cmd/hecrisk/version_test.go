package main

import (
	"os/exec"
	"regexp"
	"runtime/debug"
	"testing"
)

const testLinkVersion = "v0.0.0-test-4-gabcdef1"

// TestVersionOfBuiltBinary runs `hecrisk version` on a binary built from this checkout: it names
// the -ldflags version and the module version, then the VCS revision when go build stamped one
// (it does in a clone; not in a `git worktree` checkout, nor with -buildvcs=false, so its format
// is pinned by TestVersionString).
func TestVersionOfBuiltBinary(t *testing.T) {
	out, err := exec.Command(hecriskBinary(t), "version").CombinedOutput()
	if err != nil {
		t.Fatalf("hecrisk version: %v\n%s", err, out)
	}
	want := regexp.MustCompile(`^hecrisk ` + regexp.QuoteMeta(testLinkVersion) +
		` module \S+( revision [0-9a-f]{40}(-dirty)? committed \S+)? go1\.\S+\n$`)
	if !want.Match(out) {
		t.Fatalf("hecrisk version printed %q, want it to match %s", out, want)
	}
}

func TestVersionString(t *testing.T) {
	info := &debug.BuildInfo{
		GoVersion: "go1.26.8",
		Main:      debug.Module{Path: "github.com/hecrisk/hecrisk", Version: "v1.2.3"},
		Settings: []debug.BuildSetting{
			{Key: "vcs.revision", Value: "0123456789abcdef0123456789abcdef01234567"},
			{Key: "vcs.time", Value: "2026-12-01T10:00:00Z"},
			{Key: "vcs.modified", Value: "true"},
		},
	}
	tests := []struct {
		name, link string
		info       *debug.BuildInfo
		ok         bool
		want       string
	}{
		{"stamped", "v1.2.3-1-g0123456", info, true,
			"hecrisk v1.2.3-1-g0123456 module v1.2.3 revision 0123456789abcdef0123456789abcdef01234567-dirty committed 2026-12-01T10:00:00Z go1.26.8"},
		{"go build outside make", "", &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"}}, true,
			"hecrisk module (devel) go1.26.8"},
		{"no build info", "", nil, false, "hecrisk (no build info)"},
		{"no build info, linker version", "v9", nil, false, "hecrisk v9"},
	}
	saved := version
	t.Cleanup(func() { version = saved })
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			version = tt.link
			if got := versionString(tt.info, tt.ok); got != tt.want {
				t.Fatalf("versionString = %q, want %q", got, tt.want)
			}
		})
	}
}
