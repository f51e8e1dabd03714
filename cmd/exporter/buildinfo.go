package main

import (
	"runtime/debug"
	"strings"
	"time"

	"github.com/prometheus/common/version"
)

// stampVersion fills what the build left empty in the version package (which
// --version, the landing page and lambda_durable_exporter_build_info show)
// from the Go toolchain's build information. `make build` sets every field
// with -ldflags -X, promu-style, and then nothing changes; a plain
// `go build` or `go install` sets none of them.
func stampVersion() {
	bi, _ := debug.ReadBuildInfo()
	fillVersion(bi)
}

// fillVersion sets version.Version, Revision, Branch and BuildDate, where
// empty, from bi (nil when the binary carries no build information):
//
//   - Version: the main module's version, which `go install module@v1.2.3`
//     sets and which Go derives from the VCS (a tag or a pseudo-version,
//     "+dirty" with uncommitted changes) when it stamps one; else, for
//     "(devel)", "devel-" and the short revision ("-dirty" when vcs.modified),
//     else "(devel)".
//   - Revision: vcs.revision. Left empty without it, version.GetRevision then
//     says "unknown".
//   - Branch: "unknown"; the build information does not record it.
//   - BuildDate: vcs.time, the commit's time, in promu's format
//     (20060102-15:04:05).
func fillVersion(bi *debug.BuildInfo) {
	var mainVersion, rev, commitTime string
	modified := false
	if bi != nil {
		mainVersion = bi.Main.Version
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.modified":
				modified = s.Value == "true"
			case "vcs.time":
				commitTime = s.Value
			}
		}
	}
	if version.Version == "" {
		switch {
		case mainVersion != "" && mainVersion != "(devel)":
			version.Version = mainVersion
		case rev != "":
			version.Version = "devel-" + shortRevision(rev)
			if modified {
				version.Version += "-dirty"
			}
		default:
			version.Version = "(devel)"
		}
	}
	if version.Revision == "" && rev != "" {
		version.Revision = rev
	}
	if version.Branch == "" {
		version.Branch = "unknown"
	}
	if version.BuildDate == "" && commitTime != "" {
		if t, err := time.Parse(time.RFC3339, commitTime); err == nil {
			version.BuildDate = t.UTC().Format("20060102-15:04:05")
		}
	}
}

// shortRevision is the first 12 characters of a commit hash, as
// pseudo-versions have it.
func shortRevision(rev string) string {
	rev = strings.TrimSpace(rev)
	if len(rev) > 12 {
		return rev[:12]
	}
	return rev
}
