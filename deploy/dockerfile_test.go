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
			problems = append(problems, checkGoBuild(in.args)...)
		}
	}
	if !built {
		bad("no RUN go build in a build stage")
	}
	return append(problems, checkRuntimeStage(final, true)...)
}

// checkGoBuild returns what is wrong with a go build command line: it must be
// static and set every promu-style version variable.
func checkGoBuild(cmd string) []string {
	var problems []string
	if !regexp.MustCompile(`(^|\s)CGO_ENABLED=0(\s|$)`).MatchString(cmd) {
		problems = append(problems, "go build runs without CGO_ENABLED=0")
	}
	for _, v := range []string{"Version", "Revision", "Branch", "BuildUser", "BuildDate"} {
		if !regexp.MustCompile(`-X (github\.com/prometheus/common/version|\$\(VERSION_PKG\))\.` + v + `=`).MatchString(cmd) {
			problems = append(problems, "go build does not set github.com/prometheus/common/version."+v)
		}
	}
	if !strings.Contains(cmd, "./cmd/exporter") {
		problems = append(problems, "go build does not build ./cmd/exporter")
	}
	return problems
}

// checkRuntimeStage returns what is wrong with the stage that is the image:
// nonroot user, the exporter as exec-form ENTRYPOINT with the configuration
// path the chart mounts, the binary copied in (from a build stage when
// fromBuilder, else from the build context), port 9897.
func checkRuntimeStage(final *stage, fromBuilder bool) []string {
	var problems []string
	bad := func(s string) { problems = append(problems, s) }
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
			if in.cmd == "COPY" && len(f) >= 2 && strings.HasPrefix(f[0], "--from=") == fromBuilder && f[len(f)-1] == entry[0] {
				copied = true
			}
		}
		switch {
		case !copied && fromBuilder:
			bad("final stage does not COPY --from a build stage to " + entry[0])
		case !copied:
			bad("final stage does not COPY the binary from the build context to " + entry[0])
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
	// .build: the Containerfile's sources, staged by make image-context; podman reads .dockerignore too.
	for _, needed := range []string{"go.mod", "go.sum", "cmd", "*.go", "**/*.go", ".build", ".build/image", "*", ".*"} {
		if lines[needed] {
			t.Errorf(".dockerignore excludes %s, which the build needs", needed)
		}
	}
}

// imageContext is where `make image-context` stages what the Containerfile copies.
const imageContext = ".build/image/"

// checkContainerfile returns what is wrong with the Containerfile src, given
// the Makefile that stages its build context.
func checkContainerfile(src, makefile string) []string {
	var problems []string
	bad := func(s string) { problems = append(problems, s) }
	global, stages := parseDockerfile(src)
	for _, in := range global {
		if in.cmd != "ARG" {
			bad("instruction before FROM: " + in.cmd)
		}
	}
	if len(stages) != 1 {
		return []string{"not a single stage FROM scratch"}
	}
	st := stages[0]
	if st.base != "scratch" {
		bad("not FROM scratch (a registry would be needed): " + st.base)
	}
	// The Makefile's own variables, so that $(BINARY) and $(IMAGE_CONTEXT) in recipes read as paths.
	vars := map[string]string{}
	for _, m := range regexp.MustCompile(`(?m)^([A-Z_]+)\s*:?=\s*(\S+)\s*$`).FindAllStringSubmatch(makefile, -1) {
		vars[m[1]] = m[2]
	}
	if got := strings.TrimSuffix(vars["IMAGE_CONTEXT"], "/") + "/"; got != imageContext {
		bad("Makefile IMAGE_CONTEXT = " + got + ", want " + imageContext)
	}
	expanded := regexp.MustCompile(`\$\(([A-Z_]+)\)`).ReplaceAllStringFunc(makefile, func(ref string) string {
		if v, ok := vars[ref[2:len(ref)-1]]; ok {
			return v
		}
		return ref
	})
	dests := map[string]bool{}
	for _, in := range st.instrs {
		switch in.cmd {
		case "RUN":
			bad("RUN in an image without a shell: " + in.args)
		case "ADD":
			bad("ADD (use COPY of staged files): " + in.args)
		case "COPY":
			f := strings.Fields(in.args)
			var srcs []string
			for _, a := range f[:len(f)-1] {
				if strings.HasPrefix(a, "--from=") {
					bad("COPY --from in a FROM scratch image: " + in.args)
				} else if !strings.HasPrefix(a, "--") {
					srcs = append(srcs, a)
				}
			}
			dest := f[len(f)-1]
			for _, s := range srcs {
				if !strings.HasPrefix(s, imageContext) {
					bad("COPY source outside " + imageContext + ": " + s)
					continue
				}
				if !strings.Contains(expanded, strings.TrimSuffix(imageContext, "/")+"/"+strings.TrimPrefix(s, imageContext)) {
					bad("Makefile does not stage " + s)
				}
				if strings.HasSuffix(dest, "/") {
					dests[dest+path.Base(s)] = true
				} else {
					dests[dest] = true
				}
			}
		}
	}
	for _, want := range []string{"/etc/ssl/certs/ca-certificates.crt", "/etc/passwd", "/etc/group"} {
		if !dests[want] {
			bad("nothing is copied to " + want)
		}
	}
	if !regexp.MustCompile(`(?m)^nonroot:x:65532:65532:`).MatchString(strings.ReplaceAll(expanded, "'", "\n")) {
		bad("Makefile's passwd has no nonroot:x:65532:65532 entry")
	}
	// The go build line, with LDFLAGS (defined apart, over continuation lines) appended.
	ldflags := ""
	if i := strings.Index(expanded, "\nLDFLAGS :="); i >= 0 {
		ldflags, _, _ = strings.Cut(expanded[i+1:], "\n\n")
	}
	built := false
	for _, line := range strings.Split(expanded, "\n") {
		if !strings.HasPrefix(line, "#") && strings.Contains(line, "go build") {
			built = true
			problems = append(problems, checkGoBuild(line+" "+ldflags)...)
		}
	}
	if !built {
		bad("Makefile has no go build")
	}
	return append(problems, checkRuntimeStage(st, false)...)
}

func TestContainerfile(t *testing.T) {
	for _, p := range checkContainerfile(readRepoFile(t, "Containerfile"), readRepoFile(t, "Makefile")) {
		t.Error(p)
	}
}

// TestContainerfileChecks proves that checkContainerfile catches what it is for.
func TestContainerfileChecks(t *testing.T) {
	src, mk := readRepoFile(t, "Containerfile"), readRepoFile(t, "Makefile")
	for _, tc := range []struct {
		name, old, new, want string
		inMakefile           bool
	}{
		{"registry base", "\nFROM scratch\n", "\nFROM gcr.io/distroless/static-debian12\n", "not FROM scratch", false},
		{"root", "USER 65532:65532", "USER 0", "runs as root", false},
		{"no CA bundle", "COPY .build/image/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt\n", "", "nothing is copied to /etc/ssl/certs/ca-certificates.crt", false},
		{"no group", ".build/image/passwd .build/image/group /etc/", ".build/image/passwd /etc/", "nothing is copied to /etc/group", false},
		{"shell", "USER 65532:65532", "RUN adduser nonroot\nUSER 65532:65532", "RUN in an image without a shell", false},
		{"source not staged", "COPY .build/image/ca-certificates.crt", "COPY .build/image/certs.pem", "Makefile does not stage .build/image/certs.pem", false},
		{"source elsewhere", "COPY .build/image/ca-certificates.crt", "COPY /etc/ssl/certs/ca-certificates.crt", "COPY source outside", false},
		{"port", "EXPOSE 9897", "EXPOSE 8080", "does not EXPOSE 9897", false},
		{"cgo", "CGO_ENABLED=0 ", "", "without CGO_ENABLED=0", true},
		{"no revision", "-X $(VERSION_PKG).Revision=$(REVISION)", "", "version.Revision", true},
		{"no nonroot", "nonroot:x:65532:65532:", "nonroot:x:1000:1000:", "no nonroot:x:65532:65532 entry", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, m := src, mk
			target := &s
			if tc.inMakefile {
				target = &m
			}
			if !strings.Contains(*target, tc.old) {
				t.Fatalf("%q not found: update the test", tc.old)
			}
			*target = strings.Replace(*target, tc.old, tc.new, 1)
			problems := checkContainerfile(s, m)
			for _, p := range problems {
				if strings.Contains(p, tc.want) {
					return
				}
			}
			t.Errorf("no problem mentions %q; got %q", tc.want, problems)
		})
	}
}
