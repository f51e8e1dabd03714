package deploy

import (
	"encoding/json"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

type instruction struct {
	cmd  string // upper case
	args string
	line int
}

type stage struct {
	base, name string
	instrs     []instruction
}

// parseDockerfile splits a Dockerfile into stages of instructions, joining
// continuation lines and dropping comments, parser directives and blank lines.
func parseDockerfile(src string) (global []instruction, stages []*stage) {
	var cur strings.Builder
	start := 0
	flush := func() {
		text := strings.TrimSpace(cur.String())
		cur.Reset()
		if text == "" {
			return
		}
		cmd, args, _ := strings.Cut(text, " ")
		in := instruction{cmd: strings.ToUpper(cmd), args: strings.TrimSpace(args), line: start}
		if in.cmd == "FROM" {
			f := strings.Fields(in.args)
			var st stage
			for i := 0; i < len(f); i++ {
				switch {
				case strings.HasPrefix(f[i], "--"):
				case strings.EqualFold(f[i], "AS") && i+1 < len(f):
					st.name = f[i+1]
					i++
				case st.base == "":
					st.base = f[i]
				}
			}
			stages = append(stages, &st)
		}
		if len(stages) == 0 {
			global = append(global, in)
		} else {
			stages[len(stages)-1].instrs = append(stages[len(stages)-1].instrs, in)
		}
	}
	for i, line := range strings.Split(src, "\n") {
		trimmed := strings.TrimSpace(line)
		if strings.HasPrefix(trimmed, "#") {
			continue // comment or parser directive (also inside a continuation)
		}
		if cur.Len() == 0 {
			if trimmed == "" {
				continue
			}
			start = i + 1
		}
		if strings.HasSuffix(trimmed, `\`) {
			cur.WriteString(strings.TrimSuffix(trimmed, `\`) + " ")
			continue
		}
		cur.WriteString(trimmed)
		flush()
	}
	flush()
	return global, stages
}

func (s *stage) last(cmd string) (instruction, bool) {
	for i := len(s.instrs) - 1; i >= 0; i-- {
		if s.instrs[i].cmd == cmd {
			return s.instrs[i], true
		}
	}
	return instruction{}, false
}

const binaryName = "lambda-durable-exporter"

// checkDockerfile returns what is wrong with the Dockerfile src.
func checkDockerfile(src string) []string {
	var problems []string
	bad := func(s string) { problems = append(problems, s) }
	_, stages := parseDockerfile(src)
	if len(stages) < 2 {
		return []string{"not a multi-stage build (want a golang builder stage and a runtime stage)"}
	}
	builder, final := stages[0], stages[len(stages)-1]
	if !strings.HasPrefix(builder.base, "golang:") {
		bad("first stage is not built FROM golang: " + builder.base)
	}
	if !strings.HasPrefix(final.base, "gcr.io/distroless/") && final.base != "scratch" {
		bad("final stage is neither distroless nor scratch: " + final.base)
	}

	// The static build: CGO_ENABLED=0, version ldflags, ./cmd/exporter.
	built := false
	for _, st := range stages[:len(stages)-1] {
		for _, in := range st.instrs {
			if in.cmd != "RUN" || !strings.Contains(in.args, "go build") {
				continue
			}
			built = true
			if !regexp.MustCompile(`(^|\s)CGO_ENABLED=0(\s|$)`).MatchString(in.args) {
				bad("go build runs without CGO_ENABLED=0")
			}
			for _, v := range []string{"Version", "Revision", "Branch", "BuildUser", "BuildDate"} {
				if !strings.Contains(in.args, "-X github.com/prometheus/common/version."+v+"=") {
					bad("go build does not set github.com/prometheus/common/version." + v)
				}
			}
			if !strings.Contains(in.args, "./cmd/exporter") {
				bad("go build does not build ./cmd/exporter")
			}
		}
	}
	if !built {
		bad("no RUN go build in a build stage")
	}

	user, ok := final.last("USER")
	if !ok {
		bad("final stage has no USER (it would run as root)")
	} else {
		u, _, _ := strings.Cut(user.args, ":")
		if u == "root" || u == "0" || u == "" {
			bad("final stage runs as root: USER " + user.args)
		}
		if u != "65532" && u != "nonroot" {
			bad("final stage USER is not nonroot (65532): " + user.args)
		}
	}

	ep, ok := final.last("ENTRYPOINT")
	var entry []string
	switch {
	case !ok:
		bad("final stage has no ENTRYPOINT")
	case json.Unmarshal([]byte(ep.args), &entry) != nil || len(entry) == 0:
		bad("ENTRYPOINT is not in exec (JSON array) form: " + ep.args)
	default:
		if path.Base(entry[0]) != binaryName {
			bad("ENTRYPOINT does not run " + binaryName + ": " + entry[0])
		}
		found := false
		for _, a := range entry[1:] {
			found = found || a == "--config.file=/etc/lambda-durable-exporter/config.yaml"
		}
		if !found {
			bad("ENTRYPOINT does not pass --config.file=/etc/lambda-durable-exporter/config.yaml")
		}
		copied := false
		for _, in := range final.instrs {
			f := strings.Fields(in.args)
			if in.cmd == "COPY" && len(f) >= 2 && strings.HasPrefix(f[0], "--from=") && f[len(f)-1] == entry[0] {
				copied = true
			}
		}
		if !copied {
			bad("final stage does not COPY --from a build stage to " + entry[0])
		}
	}

	exposed := false
	for _, in := range final.instrs {
		if in.cmd == "EXPOSE" {
			for _, p := range strings.Fields(in.args) {
				exposed = exposed || p == "9897" || p == "9897/tcp"
			}
		}
	}
	if !exposed {
		bad("final stage does not EXPOSE 9897")
	}
	return problems
}

func readRepoFile(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestDockerfile(t *testing.T) {
	src := readRepoFile(t, "Dockerfile")
	for _, p := range checkDockerfile(src) {
		t.Error(p)
	}
	_, stages := parseDockerfile(src)
	if final := stages[len(stages)-1]; final.base != "gcr.io/distroless/static-debian12:nonroot" {
		t.Errorf("runtime image = %s, want gcr.io/distroless/static-debian12:nonroot", final.base)
	}
}

func TestDockerignore(t *testing.T) {
	lines := map[string]bool{}
	for _, l := range strings.Split(readRepoFile(t, ".dockerignore"), "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			lines[strings.Trim(l, "/")] = true
		}
	}
	if !lines[".git"] {
		t.Error(".dockerignore does not exclude .git")
	}
	for _, needed := range []string{"go.mod", "go.sum", "cmd", "*.go", "**/*.go"} {
		if lines[needed] {
			t.Errorf(".dockerignore excludes %s, which the build needs", needed)
		}
	}
}
