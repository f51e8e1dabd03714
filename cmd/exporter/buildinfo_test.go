package main

import (
	"debug/buildinfo"
	"os/exec"
	"regexp"
	"runtime/debug"
	"testing"

	"github.com/prometheus/common/version"
)

// setVersion sets the version package's build fields for one test and
// restores them after it.
func setVersion(t *testing.T, v, rev, branch, date string) {
	t.Helper()
	old := [...]string{version.Version, version.Revision, version.Branch, version.BuildDate}
	t.Cleanup(func() {
		version.Version, version.Revision, version.Branch, version.BuildDate = old[0], old[1], old[2], old[3]
	})
	version.Version, version.Revision, version.Branch, version.BuildDate = v, rev, branch, date
}

func TestFillVersion(t *testing.T) {
	const rev = "be3a60fabcdef0123456789abcdef0123456789a"
	vcs := func(modified string) []debug.BuildSetting {
		return []debug.BuildSetting{
			{Key: "vcs", Value: "git"},
			{Key: "vcs.revision", Value: rev},
			{Key: "vcs.time", Value: "2026-12-08T01:48:25Z"},
			{Key: "vcs.modified", Value: modified},
		}
	}
	type want struct{ version, revision, branch, date string }
	for _, tc := range []struct {
		name string
		bi   *debug.BuildInfo
		// ldflags are the fields set with -X before fillVersion runs.
		ldflags want
		want    want
	}{
		{
			name: "no build information",
			want: want{"(devel)", "", "unknown", ""},
		},
		{
			name: "go build without VCS stamping",
			bi:   &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}},
			want: want{"(devel)", "", "unknown", ""},
		},
		{
			name: "go install module@version",
			bi:   &debug.BuildInfo{Main: debug.Module{Version: "v1.4.0"}},
			want: want{"v1.4.0", "", "unknown", ""},
		},
		{
			name: "go build in a clean checkout: pseudo-version and VCS",
			bi: &debug.BuildInfo{
				Main:     debug.Module{Version: "v0.0.0-20261208014825-be3a60fabcde"},
				Settings: vcs("false"),
			},
			want: want{"v0.0.0-20261208014825-be3a60fabcde", rev, "unknown", "20261208-01:48:25"},
		},
		{
			name: "go build with uncommitted changes",
			bi: &debug.BuildInfo{
				Main:     debug.Module{Version: "v0.0.0-20261208014825-be3a60fabcde+dirty"},
				Settings: vcs("true"),
			},
			want: want{"v0.0.0-20261208014825-be3a60fabcde+dirty", rev, "unknown", "20261208-01:48:25"},
		},
		{
			name: "(devel) with VCS information",
			bi:   &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Settings: vcs("false")},
			want: want{"devel-be3a60fabcde", rev, "unknown", "20261208-01:48:25"},
		},
		{
			name: "(devel) with VCS information, modified",
			bi:   &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Settings: vcs("true")},
			want: want{"devel-be3a60fabcde-dirty", rev, "unknown", "20261208-01:48:25"},
		},
		{
			name:    "make build: ldflags win",
			bi:      &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Settings: vcs("true")},
			ldflags: want{"1.2.3", "0123abcd", "main", "20261201-10:00:00"},
			want:    want{"1.2.3", "0123abcd", "main", "20261201-10:00:00"},
		},
		{
			name: "unparsable vcs.time",
			bi: &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Settings: []debug.BuildSetting{
				{Key: "vcs.revision", Value: "abc"}, {Key: "vcs.time", Value: "yesterday"},
			}},
			want: want{"devel-abc", "abc", "unknown", ""},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			setVersion(t, tc.ldflags.version, tc.ldflags.revision, tc.ldflags.branch, tc.ldflags.date)
			fillVersion(tc.bi)
			got := want{version.Version, version.Revision, version.Branch, version.BuildDate}
			if got != tc.want {
				t.Errorf("fillVersion:\n got %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

// TestVersionFlagPlainBuild checks --version of the binary TestMain builds
// with a plain `go build`: no field is empty, and the revision is the one Go
// stamped (none in a git worktree or with -buildvcs=false: "unknown").
func TestVersionFlagPlainBuild(t *testing.T) {
	out, err := exec.Command(binary, "--version").CombinedOutput()
	if err != nil {
		t.Fatalf("--version: %v\n%s", err, out)
	}
	m := regexp.MustCompile(`(?m)^lambda-durable-exporter, version (\S+) \(branch: (\S+), revision: (\S+)\)$`).FindSubmatch(out)
	if m == nil {
		t.Fatalf("--version printed no 'version V (branch: B, revision: R)' line with all three set:\n%s", out)
	}
	gotVersion, gotRevision := string(m[1]), string(m[3])
	bi, err := buildinfo.ReadFile(binary)
	if err != nil {
		t.Fatal(err)
	}
	rev := ""
	for _, s := range bi.Settings {
		if s.Key == "vcs.revision" {
			rev = s.Value
		}
	}
	t.Logf("main module version %q, vcs.revision %q; --version: %s", bi.Main.Version, rev, m[0])
	switch {
	case rev != "" && gotRevision != rev:
		t.Errorf("revision = %s, want vcs.revision %s", gotRevision, rev)
	case rev == "" && gotRevision != "unknown":
		t.Errorf("revision = %s without vcs.revision, want unknown", gotRevision)
	}
	switch {
	case bi.Main.Version != "(devel)" && bi.Main.Version != "":
		if gotVersion != bi.Main.Version {
			t.Errorf("version = %s, want the main module's %s", gotVersion, bi.Main.Version)
		}
	case rev != "":
		if !regexp.MustCompile(`^devel-[0-9a-f]{1,12}(-dirty)?$`).MatchString(gotVersion) {
			t.Errorf("version = %s, want devel-<revision>", gotVersion)
		}
	default:
		if gotVersion != "(devel)" {
			t.Errorf("version = %s, want (devel)", gotVersion)
		}
	}
}
