package main

import (
	"context"
	"fmt"
	"io"
	"runtime/debug"
	"strings"
)

// version is set by `make build` (-ldflags "-X main.version=$(git describe --always --dirty)");
// a plain `go build` leaves it empty and the build info speaks alone.
var version string

// versionString says which code a binary is: the linker-set version, the module version (a
// tagged `go install` gives v1.2.3, a checkout "(devel)"), and the VCS revision, time and dirty
// flag that `go build` stamps from the checkout.
func versionString(info *debug.BuildInfo, ok bool) string {
	parts := []string{"hecrisk"}
	if version != "" {
		parts = append(parts, version)
	}
	if !ok {
		if version == "" {
			parts = append(parts, "(no build info)")
		}
		return strings.Join(parts, " ")
	}
	if v := info.Main.Version; v != "" {
		parts = append(parts, "module "+v)
	}
	settings := map[string]string{}
	for _, s := range info.Settings {
		settings[s.Key] = s.Value
	}
	if rev := settings["vcs.revision"]; rev != "" {
		if settings["vcs.modified"] == "true" {
			rev += "-dirty"
		}
		parts = append(parts, "revision "+rev)
	}
	if t := settings["vcs.time"]; t != "" {
		parts = append(parts, "committed "+t)
	}
	parts = append(parts, info.GoVersion)
	return strings.Join(parts, " ")
}

func runVersion(_ context.Context, _ []string, out, _ io.Writer) error {
	info, ok := debug.ReadBuildInfo()
	_, err := fmt.Fprintln(out, versionString(info, ok))
	return err
}
