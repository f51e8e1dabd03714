package deploy

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/lambda-durable-exporter/lambda-durable-exporter/config"
)

var chartDir = filepath.Join("helm", "lambda-durable-exporter")

// valuesFile is values.yaml parsed: the dotted path of every key in file
// order, whether each is a leaf, and its key and value nodes. Maps nest;
// a list and everything in it belong to the key that holds the list.
type valuesFile struct {
	paths      []string
	leaf       map[string]bool
	key, value map[string]*yaml.Node
	root       *yaml.Node
}

// readValues parses the chart's values.yaml with yaml.v3. A key is a leaf
// unless its value is a map with keys: a scalar, a list, an empty map ({})
// and no value at all are leaves.
func readValues(t *testing.T) *valuesFile {
	t.Helper()
	name := filepath.Join(chartDir, "values.yaml")
	v := &valuesFile{root: parseYAML(t, name), leaf: map[string]bool{}, key: map[string]*yaml.Node{}, value: map[string]*yaml.Node{}}
	var walk func(prefix string, m *yaml.Node)
	walk = func(prefix string, m *yaml.Node) {
		if m.Kind != yaml.MappingNode {
			t.Fatalf("%s:%d: %q is not a map", name, m.Line, prefix)
		}
		for i := 0; i+1 < len(m.Content); i += 2 {
			k, val := m.Content[i], m.Content[i+1]
			if k.Kind != yaml.ScalarNode || k.Value == "" || k.Value == "<<" || strings.Contains(k.Value, ".") {
				t.Fatalf("%s:%d: cannot read key %q under %q", name, k.Line, k.Value, prefix)
			}
			p := k.Value
			if prefix != "" {
				p = prefix + "." + k.Value
			}
			v.paths = append(v.paths, p)
			v.key[p], v.value[p] = k, val
			v.leaf[p] = val.Kind != yaml.MappingNode || len(val.Content) == 0
			if !v.leaf[p] {
				walk(p, val)
			}
		}
	}
	walk("", v.root)
	return v
}

// comments returns every comment in the block of path ("" is the whole
// file): above, beside and below its key and everything under it.
func (v *valuesFile) comments(path string) string {
	var b strings.Builder
	var collect func(n *yaml.Node)
	collect = func(n *yaml.Node) {
		if n == nil {
			return
		}
		for _, c := range []string{n.HeadComment, n.LineComment, n.FootComment} {
			b.WriteString(c + "\n")
		}
		for _, c := range n.Content {
			collect(c)
		}
	}
	if path == "" {
		collect(v.root)
	} else {
		collect(v.key[path])
		collect(v.value[path])
	}
	return b.String()
}

// TestValuesDocumentedInChartREADME: every values.yaml key is in the chart
// README's table and every key in that table is in values.yaml.
func TestValuesDocumentedInChartREADME(t *testing.T) {
	v := readValues(t)
	if len(v.paths) < 50 {
		t.Fatalf("only %d keys read from values.yaml", len(v.paths))
	}
	readme := read(t, filepath.Join(chartDir, "README.md"))
	documented := map[string]bool{}
	for k := range readmeRows(t) {
		documented[k] = true
	}
	known := map[string]bool{}
	for _, p := range v.paths {
		known[p] = true
		if v.leaf[p] {
			if !documented[p] {
				t.Errorf("values.yaml key %s has no row in the chart README's values table", p)
			}
		} else if !strings.Contains(readme, "`"+p+".") {
			t.Errorf("values.yaml key %s is not mentioned in the chart README", p)
		}
	}
	schemaPaths, _ := schemaKeys(t)
	for p := range documented {
		if !known[p] && !schemaPaths[p] {
			t.Errorf("the chart README documents %s, which neither values.yaml nor values.schema.json has", p)
		}
	}
}

// readmeRows returns the first cell (a `key`) and the rest of every row of
// the chart README's Markdown tables.
func readmeRows(t *testing.T) map[string]string {
	t.Helper()
	rowRE := regexp.MustCompile("(?m)^\\| `([^`]+)` \\|(.*)$")
	rows := map[string]string{}
	for _, m := range rowRE.FindAllStringSubmatch(read(t, filepath.Join(chartDir, "README.md")), -1) {
		rows[m[1]] = m[2]
	}
	return rows
}

// schemaKeys returns the property paths of values.schema.json and the paths
// whose schema lists no properties (open objects, passed to Kubernetes), and
// checks that every object listing properties rejects other keys.
func schemaKeys(t *testing.T) (paths, open map[string]bool) {
	t.Helper()
	var schema map[string]any
	if err := json.Unmarshal([]byte(read(t, filepath.Join(chartDir, "values.schema.json"))), &schema); err != nil {
		t.Fatal(err)
	}
	defs, _ := schema["definitions"].(map[string]any)
	resolve := func(n map[string]any) map[string]any {
		if ref, ok := n["$ref"].(string); ok {
			d, _ := defs[strings.TrimPrefix(ref, "#/definitions/")].(map[string]any)
			if d == nil {
				t.Fatalf("schema: unresolved %s", ref)
			}
			return d
		}
		return n
	}
	paths, open = map[string]bool{}, map[string]bool{}
	var walk func(prefix string, n map[string]any)
	walk = func(prefix string, n map[string]any) {
		n = resolve(n)
		if items, ok := n["items"].(map[string]any); ok {
			if it := resolve(items); it["properties"] != nil && it["additionalProperties"] != false {
				t.Errorf("schema: items of %q do not set additionalProperties: false", prefix)
			}
		}
		props, ok := n["properties"].(map[string]any)
		if !ok {
			open[prefix] = true
			return
		}
		if n["additionalProperties"] != false {
			t.Errorf("schema object %q does not set additionalProperties: false", prefix)
		}
		for k, v := range props {
			p := k
			if prefix != "" {
				p = prefix + "." + k
			}
			paths[p] = true
			walk(p, v.(map[string]any))
		}
	}
	walk("", schema)
	return paths, open
}

// TestValuesMatchSchema: values.yaml and values.schema.json define the same
// keys wherever the schema lists properties, except optional keys that the
// schema types, the README documents as optional and a comment in their
// block of values.yaml names, and every object the schema lists properties
// of rejects other keys.
func TestValuesMatchSchema(t *testing.T) {
	schemaPaths, open := schemaKeys(t)
	v := readValues(t)
	inValues := map[string]bool{}
	for _, p := range v.paths {
		inValues[p] = true
		parent := ""
		if i := strings.LastIndex(p, "."); i >= 0 {
			parent = p[:i]
		}
		if !schemaPaths[p] && !open[parent] && !underOpen(p, open) {
			t.Errorf("values.yaml key %s is not in values.schema.json", p)
		}
	}
	rows := readmeRows(t)
	var missing []string
	for p := range schemaPaths {
		if !inValues[p] {
			missing = append(missing, p)
		}
	}
	sort.Strings(missing)
	for _, p := range missing {
		parent, key := "", p
		if i := strings.LastIndex(p, "."); i >= 0 {
			parent, key = p[:i], p[i+1:]
		}
		if !inValues[parent] && parent != "" {
			continue // reported for its parent
		}
		if !strings.Contains(rows[p], "Optional") {
			t.Errorf("values.schema.json defines %s, which values.yaml does not have (add it with a default, or document it as Optional in the chart README)", p)
		}
		if !regexp.MustCompile(`\b` + regexp.QuoteMeta(key) + `\b`).MatchString(v.comments(parent)) {
			t.Errorf("values.schema.json defines %s, which values.yaml neither has nor names in a comment of its block %q (the list of optional keys)", p, parent)
		}
	}
}

func underOpen(p string, open map[string]bool) bool {
	for o := range open {
		if o != "" && strings.HasPrefix(p, o+".") {
			return true
		}
	}
	return false
}

// TestWorkloadsSharePodTemplate: the Deployment and the StatefulSet
// (sharding.enabled) render the same pod template, from _helpers.tpl.
func TestWorkloadsSharePodTemplate(t *testing.T) {
	for _, name := range []string{"deployment.yaml", "statefulset.yaml"} {
		tpl := read(t, filepath.Join(chartDir, "templates", name))
		if !strings.Contains(tpl, `include "lde.podTemplate" .`) {
			t.Errorf("templates/%s does not include the lde.podTemplate helper", name)
		}
		if strings.Contains(tpl, "containers:") {
			t.Errorf("templates/%s defines a pod spec of its own instead of using lde.podTemplate", name)
		}
	}
}

// helmBinary returns the helm that .ci/deploy-checks.sh installs (or one on
// PATH) and the Kubernetes version to render for, or skips the test: these
// tests need no tool to compile, and run wherever helm is installed.
func helmBinary(t *testing.T) (helm, kubeVersion string) {
	t.Helper()
	m := regexp.MustCompile(`(?m)^LDE_K8S_VERSION=v(\S+)$`).FindStringSubmatch(read(t, filepath.Join("tools", "lib.sh")))
	if m == nil {
		t.Fatal("no LDE_K8S_VERSION in deploy/tools/lib.sh")
	}
	dir := os.Getenv("LDE_TOOLS_DIR")
	if dir == "" {
		if home, err := os.UserHomeDir(); err == nil {
			dir = filepath.Join(home, ".cache", "lde-tools")
		}
	}
	if p := filepath.Join(dir, "helm"); dir != "" {
		if _, err := os.Stat(p); err == nil {
			return p, m[1]
		}
	}
	if p, err := exec.LookPath("helm"); err == nil {
		return p, m[1]
	}
	t.Skip("helm is not installed (bash .ci/deploy-checks.sh installs it)")
	return "", ""
}

// helmTemplate renders the chart with a ci/*-values.yaml file (none when
// values is "") and extra arguments. It returns helm's standard output when helm succeeded, and
// its standard output and error when it failed.
func helmTemplate(t *testing.T, values string, args ...string) (string, bool) {
	t.Helper()
	helm, kube := helmBinary(t)
	base := []string{"template", "lambda-durable-exporter", chartDir, "--namespace", "monitoring", "--kube-version", kube}
	if values != "" {
		base = append(base, "-f", filepath.Join(chartDir, "ci", values))
	}
	cmd := exec.Command(helm, append(base, args...)...)
	tmp := t.TempDir()
	cmd.Env = append(os.Environ(), "HELM_CONFIG_HOME="+tmp, "HELM_CACHE_HOME="+tmp, "HELM_DATA_HOME="+tmp)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String() + stderr.String(), false
	}
	return stdout.String(), true
}

// render runs helmTemplate, which must succeed, and parses its output.
func render(t *testing.T, values string, args ...string) (string, map[string][]manifest) {
	t.Helper()
	out, ok := helmTemplate(t, values, args...)
	if !ok {
		t.Fatalf("helm template -f ci/%s %v failed:\n%s", values, args, out)
	}
	return out, manifests(t, out)
}

// exporterContainer returns the workload's only container.
func exporterContainer(t *testing.T, what string, w workload) container {
	t.Helper()
	if c := w.Spec.Template.Spec.Containers; len(c) != 1 {
		t.Fatalf("%s: want one container, got %d", what, len(c))
	}
	return w.Spec.Template.Spec.Containers[0]
}

func wantArgs(t *testing.T, what string, c container, args ...string) {
	t.Helper()
	for _, a := range args {
		if !slices.Contains(c.Args, a) {
			t.Errorf("%s: the container has no argument %q: %q", what, a, c.Args)
		}
	}
}

// wantLabels checks that labels carry every name=value of want.
func wantLabels(t *testing.T, what string, labels map[string]string, want ...string) {
	t.Helper()
	for _, kv := range want {
		k, v, _ := strings.Cut(kv, "=")
		if got, ok := labels[k]; !ok || got != v {
			t.Errorf("%s: label %s is %q, want %q (labels %v)", what, k, got, v, labels)
		}
	}
}

var podLabels = []string{"app.kubernetes.io/name=lambda-durable-exporter", "app.kubernetes.io/instance=lambda-durable-exporter"}

// TestChartSharding: sharding.enabled renders a StatefulSet of
// sharding.shards replicas (instead of the Deployment) governed by a headless
// Service, with the shard flags and POD_NAME; the Service, the ServiceMonitor
// (not the headless Service) and the PodDisruptionBudget select its pods.
func TestChartSharding(t *testing.T) {
	_, docs := render(t, "sharded-values.yaml")
	if len(docs["Deployment"]) != 0 || len(docs["StatefulSet"]) != 1 {
		t.Fatalf("want 1 StatefulSet and no Deployment, got %d and %d", len(docs["StatefulSet"]), len(docs["Deployment"]))
	}
	var sts workload
	docs["StatefulSet"][0].decode(t, &sts)
	if r := sts.Spec.Replicas; r == nil || *r != 3 {
		t.Errorf("the StatefulSet: replicas %v, want 3", r)
	}
	if sts.Spec.ServiceName != "lambda-durable-exporter-headless" {
		t.Errorf("the StatefulSet: serviceName %q, want lambda-durable-exporter-headless", sts.Spec.ServiceName)
	}
	if sts.Spec.PodManagementPolicy != "Parallel" {
		t.Errorf("the StatefulSet: podManagementPolicy %q, want Parallel", sts.Spec.PodManagementPolicy)
	}
	c := exporterContainer(t, "the StatefulSet", sts)
	wantArgs(t, "the StatefulSet", c, "--shard.total=3", "--shard.auto")
	podName := false
	for _, e := range c.Env {
		if e.Name == "POD_NAME" {
			podName = e.ValueFrom != nil && e.ValueFrom.FieldRef != nil && e.ValueFrom.FieldRef.FieldPath == "metadata.name"
		}
	}
	if !podName {
		t.Errorf("the StatefulSet: no env POD_NAME from fieldRef metadata.name: %+v", c.Env)
	}
	if r := c.SecurityContext.ReadOnlyRootFilesystem; r == nil || !*r {
		t.Error("the StatefulSet: the container's root filesystem is not read-only")
	}
	pod := sts.Spec.Template.Metadata.Labels
	wantLabels(t, "the StatefulSet's selector", sts.Spec.Selector.MatchLabels, podLabels...)
	wantLabels(t, "the StatefulSet's pod template", pod, podLabels...)
	if !sts.Spec.Selector.matches(pod) {
		t.Errorf("the StatefulSet's selector %+v does not select its own pods %v", sts.Spec.Selector, pod)
	}

	var headless, regular []service
	for _, m := range docs["Service"] {
		var s service
		m.decode(t, &s)
		if s.Spec.ClusterIP == "None" {
			headless = append(headless, s)
		} else {
			regular = append(regular, s)
		}
	}
	if len(headless) != 1 || len(regular) != 1 {
		t.Fatalf("want a regular and a headless Service, got %d regular and %d headless", len(regular), len(headless))
	}
	if headless[0].Metadata.Name != "lambda-durable-exporter-headless" {
		t.Errorf("the headless Service is named %q, want lambda-durable-exporter-headless", headless[0].Metadata.Name)
	}
	wantLabels(t, "the headless Service", headless[0].Metadata.Labels, "lambda-durable-exporter/headless=true")
	if _, ok := regular[0].Metadata.Labels["lambda-durable-exporter/headless"]; ok {
		t.Error("the regular Service carries the headless label: the ServiceMonitor would not select it")
	}
	for _, s := range []service{headless[0], regular[0]} {
		if !(labelSelector{MatchLabels: s.Spec.Selector}).matches(pod) || len(s.Spec.Selector) == 0 {
			t.Errorf("Service %s: selector %v does not select the StatefulSet's pods %v", s.Metadata.Name, s.Spec.Selector, pod)
		}
	}
	if len(docs["ServiceMonitor"]) != 1 {
		t.Fatal("no ServiceMonitor rendered")
	}
	var sm serviceMonitor
	docs["ServiceMonitor"][0].decode(t, &sm)
	doesNotExist := false
	for _, e := range sm.Spec.Selector.MatchExpressions {
		doesNotExist = doesNotExist || e.Key == "lambda-durable-exporter/headless" && e.Operator == "DoesNotExist"
	}
	if !doesNotExist {
		t.Errorf("the ServiceMonitor's selector has no matchExpression lambda-durable-exporter/headless DoesNotExist: %+v", sm.Spec.Selector)
	}
	if !sm.Spec.Selector.matches(regular[0].Metadata.Labels) {
		t.Errorf("the ServiceMonitor does not select the regular Service (labels %v)", regular[0].Metadata.Labels)
	}
	if sm.Spec.Selector.matches(headless[0].Metadata.Labels) {
		t.Error("the ServiceMonitor selects the headless Service: every shard would be scraped twice")
	}
	if len(docs["PodDisruptionBudget"]) != 1 {
		t.Fatal("no PodDisruptionBudget rendered")
	}
	var pdb podDisruptionBudget
	docs["PodDisruptionBudget"][0].decode(t, &pdb)
	wantLabels(t, "the PodDisruptionBudget's selector", pdb.Spec.Selector.MatchLabels, podLabels...)
	if !pdb.Spec.Selector.matches(pod) {
		t.Errorf("the PodDisruptionBudget's selector %+v does not select the StatefulSet's pods %v", pdb.Spec.Selector, pod)
	}

	// Unsharded renders keep the Deployment and have no shard flag.
	out, docs := render(t, "default-values.yaml")
	if len(docs["Deployment"]) != 1 || len(docs["StatefulSet"]) != 0 || len(docs["Service"]) != 1 {
		t.Error("the default values do not render exactly a Deployment and one Service")
	}
	if strings.Contains(out, "--shard.") || strings.Contains(out, "POD_NAME") {
		t.Error("the default values render shard flags")
	}
}

// TestChartWebConfig: a web config is mounted and passed with
// --web.config.file; TLS switches the probes to HTTPS and the ServiceMonitor
// to https; basic auth makes the probes TCP checks unless probes.httpHeaders
// is set, in which case both probes send them.
func TestChartWebConfig(t *testing.T) {
	_, docs := render(t, "webconfig-values.yaml")
	if len(docs["Secret"]) != 1 || len(docs["Deployment"]) != 1 || len(docs["ServiceMonitor"]) != 1 {
		t.Fatalf("want a Secret, a Deployment and a ServiceMonitor, got %d, %d, %d", len(docs["Secret"]), len(docs["Deployment"]), len(docs["ServiceMonitor"]))
	}
	if n := docs["Secret"][0].Metadata.Name; n != "lambda-durable-exporter-web-config" {
		t.Errorf("the web config Secret is named %q, want lambda-durable-exporter-web-config", n)
	}
	var dep workload
	docs["Deployment"][0].decode(t, &dep)
	c := exporterContainer(t, "the Deployment", dep)
	wantArgs(t, "the Deployment", c, "--web.config.file=/etc/lambda-durable-exporter/web/web-config.yml")
	// The web config directory is a volume with the chart's Secret and
	// the certificate from webConfig.tlsSecret under tls/.
	var mounted string
	for _, m := range c.VolumeMounts {
		if m.MountPath == "/etc/lambda-durable-exporter/web" {
			mounted = m.Name
		}
	}
	if mounted == "" {
		t.Errorf("the Deployment mounts nothing at /etc/lambda-durable-exporter/web: %+v", c.VolumeMounts)
	}
	var secrets []string
	var paths []string
	for _, v := range dep.Spec.Template.Spec.Volumes {
		if v.Name != mounted || v.Projected == nil {
			continue
		}
		for _, s := range v.Projected.Sources {
			if s.Secret != nil {
				secrets = append(secrets, s.Secret.Name)
				for _, it := range s.Secret.Items {
					paths = append(paths, it.Path)
				}
			}
		}
	}
	if !slices.Contains(secrets, "lambda-durable-exporter-web-config") {
		t.Errorf("the volume mounted at /etc/lambda-durable-exporter/web (%q) projects the Secrets %q, not lambda-durable-exporter-web-config", mounted, secrets)
	}
	for _, p := range []string{"tls/tls.crt", "tls/tls.key"} {
		if !slices.Contains(paths, p) {
			t.Errorf("the volume mounted at /etc/lambda-durable-exporter/web has no %s (paths %q)", p, paths)
		}
	}
	for name, p := range map[string]probe{"liveness": c.LivenessProbe, "readiness": c.ReadinessProbe} {
		if p.TCPSocket == nil || p.HTTPGet != nil {
			t.Errorf("basic auth without probes.httpHeaders: the %s probe is not a tcpSocket probe: %+v", name, p)
		}
	}
	var sm serviceMonitor
	docs["ServiceMonitor"][0].decode(t, &sm)
	if len(sm.Spec.Endpoints) != 1 {
		t.Fatalf("the ServiceMonitor has %d endpoints, want 1", len(sm.Spec.Endpoints))
	}
	ep := sm.Spec.Endpoints[0]
	if ep.Scheme != "https" {
		t.Errorf("the ServiceMonitor scrapes with scheme %q, want https", ep.Scheme)
	}
	if len(ep.TLSConfig) == 0 {
		t.Error("the ServiceMonitor has no tlsConfig")
	}
	if ba := ep.BasicAuth; ba == nil || ba.Username.Name != "lambda-durable-exporter-scrape" || ba.Password.Name != "lambda-durable-exporter-scrape" {
		t.Errorf("the ServiceMonitor's basicAuth does not take username and password from the Secret lambda-durable-exporter-scrape: %+v", ba)
	}

	_, docs = render(t, "hardened-extras-values.yaml")
	if len(docs["Deployment"]) != 1 {
		t.Fatalf("hardened-extras: want a Deployment, got %d", len(docs["Deployment"]))
	}
	docs["Deployment"][0].decode(t, &dep)
	c = exporterContainer(t, "the Deployment", dep)
	for name, p := range map[string]probe{"liveness": c.LivenessProbe, "readiness": c.ReadinessProbe} {
		if p.HTTPGet == nil || p.TCPSocket != nil {
			t.Errorf("probes.httpHeaders: the %s probe is not an httpGet probe (and only that): %+v", name, p)
			continue
		}
		if p.HTTPGet.Scheme != "HTTPS" {
			t.Errorf("TLS from webConfig.existingSecret: the %s probe uses scheme %q, want HTTPS", name, p.HTTPGet.Scheme)
		}
		if len(p.HTTPGet.HTTPHeaders) == 0 || p.HTTPGet.HTTPHeaders[0].Name != "Authorization" {
			t.Errorf("probes.httpHeaders: the %s probe does not send them: %+v", name, p.HTTPGet.HTTPHeaders)
		}
	}
	if len(docs["Secret"]) != 0 {
		t.Error("webConfig.existingSecret: the chart renders a Secret of its own")
	}
}

// TestChartRejectsBadShardingAndWebConfig: the schema and the templates
// reject impossible sharding and web config values.
func TestChartRejectsBadShardingAndWebConfig(t *testing.T) {
	for _, c := range []struct {
		title, values string
		args          []string
	}{
		{"one shard", "default-values.yaml", []string{"--set", "sharding.enabled=true", "--set", "sharding.shards=1"}},
		{"string shards", "sharded-values.yaml", []string{"--set-string", "sharding.shards=three"}},
		{"misspelled sharding key", "default-values.yaml", []string{"--set", "sharding.shard=2"}},
		{"shard flag in extraArgs", "sharded-values.yaml", []string{"--set", "extraArgs[0]=--shard.index=1"}},
		{"StatefulSet name over 52 characters", "sharded-values.yaml", []string{"--set", "fullnameOverride=" + strings.Repeat("x", 53)}},
		{"misspelled webConfig key", "default-values.yaml", []string{"--set", "webConfig.secret=web"}},
		{"existingSecret and content", "webconfig-values.yaml", []string{"--set", "webConfig.existingSecret=web"}},
		{"tls without a web config", "default-values.yaml", []string{"--set", "webConfig.tls=true"}},
		{"basic auth without Prometheus credentials", "webconfig-values.yaml", []string{"--set", "serviceMonitor.basicAuth.secretName="}},
		{"header without a value", "default-values.yaml", []string{"--set", "probes.httpHeaders[0].name=Authorization"}},
		{"misspelled serviceMonitor.basicAuth key", "default-values.yaml", []string{"--set", "serviceMonitor.basicAuth.secret=x"}},
	} {
		if out, ok := helmTemplate(t, c.values, c.args...); ok {
			t.Errorf("helm accepted %s (%v):\n%.300s", c.title, c.args, out)
		}
	}
}

// persistentWorkload is what persistence changes in a Deployment or a
// StatefulSet, besides the container's arguments and volume mounts.
type persistentWorkload struct {
	Spec struct {
		Strategy *struct {
			Type string
		}
		VolumeClaimTemplates []persistentVolumeClaim `yaml:"volumeClaimTemplates"`
		Template             struct {
			Spec struct {
				SecurityContext map[string]any `yaml:"securityContext"`
				Volumes         []struct {
					Name                  string
					PersistentVolumeClaim *struct {
						ClaimName string `yaml:"claimName"`
					} `yaml:"persistentVolumeClaim"`
				}
			}
		}
	}
}

type persistentVolumeClaim struct {
	Metadata struct {
		Name        string
		Annotations map[string]string
	}
	Spec struct {
		AccessModes      []string `yaml:"accessModes"`
		StorageClassName *string  `yaml:"storageClassName"`
		Resources        struct {
			Requests map[string]string
		}
	}
}

// wantClaim checks a PersistentVolumeClaim (or volumeClaimTemplate):
// its access modes, size and storage class ("" means none set).
func wantClaim(t *testing.T, what string, c persistentVolumeClaim, size, class string, modes ...string) {
	t.Helper()
	if got := c.Spec.Resources.Requests["storage"]; got != size {
		t.Errorf("%s: requests storage %q, want %q", what, got, size)
	}
	switch got := c.Spec.StorageClassName; {
	case class == "" && got != nil:
		t.Errorf("%s: storageClassName %q, want none (the cluster's default class)", what, *got)
	case class != "" && (got == nil || *got != class):
		t.Errorf("%s: storageClassName %v, want %q", what, got, class)
	}
	if !slices.Equal(c.Spec.AccessModes, modes) {
		t.Errorf("%s: accessModes %q, want %q", what, c.Spec.AccessModes, modes)
	}
}

// storageMount returns the mount path of the container's "storage" volume, or "".
func storageMount(c container) string {
	for _, m := range c.VolumeMounts {
		if m.Name == "storage" {
			return m.MountPath
		}
	}
	return ""
}

// storageClaim returns the claim of the pod's "storage" volume, "" when it
// has none, and whether the pod has such a volume.
func storageClaim(w persistentWorkload) (string, bool) {
	for _, v := range w.Spec.Template.Spec.Volumes {
		if v.Name == "storage" {
			if v.PersistentVolumeClaim == nil {
				return "", true
			}
			return v.PersistentVolumeClaim.ClaimName, true
		}
	}
	return "", false
}

// deployment renders the chart, which must produce one Deployment, and
// returns it decoded both ways with its PersistentVolumeClaims.
func deployment(t *testing.T, values string, args ...string) (workload, persistentWorkload, []persistentVolumeClaim) {
	t.Helper()
	_, docs := render(t, values, args...)
	if len(docs["Deployment"]) != 1 || len(docs["StatefulSet"]) != 0 {
		t.Fatalf("ci/%s %v: want one Deployment and no StatefulSet, got %d and %d", values, args, len(docs["Deployment"]), len(docs["StatefulSet"]))
	}
	var w workload
	var p persistentWorkload
	docs["Deployment"][0].decode(t, &w)
	docs["Deployment"][0].decode(t, &p)
	var claims []persistentVolumeClaim
	for _, m := range docs["PersistentVolumeClaim"] {
		var c persistentVolumeClaim
		m.decode(t, &c)
		claims = append(claims, c)
	}
	return w, p, claims
}

// TestChartPersistence: persistence.enabled mounts a volume at
// persistence.mountPath and passes it as --storage.path; the Deployment gets
// the chart's PersistentVolumeClaim (or existingClaim) and strategy
// Recreate, the StatefulSet volumeClaimTemplates (one claim per shard), and
// the pod an fsGroup that lets user 65532 write the volume. Without it
// nothing changes.
func TestChartPersistence(t *testing.T) {
	const mountPath = "/var/lib/lambda-durable-exporter"
	dep, p, claims := deployment(t, "persistence-values.yaml")
	if len(claims) != 1 {
		t.Fatalf("persistence: want one PersistentVolumeClaim, got %d", len(claims))
	}
	claim := claims[0]
	if claim.Metadata.Name != "lambda-durable-exporter-storage" {
		t.Errorf("the PersistentVolumeClaim is named %q, want lambda-durable-exporter-storage", claim.Metadata.Name)
	}
	wantClaim(t, "the PersistentVolumeClaim", claim, "2Gi", "gp3", "ReadWriteOnce")
	if a := claim.Metadata.Annotations["helm.sh/resource-policy"]; a != "keep" {
		t.Errorf("the PersistentVolumeClaim lacks persistence.annotations: %v", claim.Metadata.Annotations)
	}
	if s := p.Spec.Strategy; s == nil || s.Type != "Recreate" {
		t.Errorf("persistence: the Deployment's strategy is %+v, want Recreate", s)
	}
	c := exporterContainer(t, "the Deployment", dep)
	wantArgs(t, "the Deployment", c, "--storage.path="+mountPath)
	if m := storageMount(c); m != mountPath {
		t.Errorf("the Deployment mounts the storage volume at %q, want %s: %+v", m, mountPath, c.VolumeMounts)
	}
	if name, _ := storageClaim(p); name != claim.Metadata.Name {
		t.Errorf("the Deployment's storage volume uses the claim %q, want %q", name, claim.Metadata.Name)
	}
	if r := c.SecurityContext.ReadOnlyRootFilesystem; r == nil || !*r {
		t.Error("persistence: the container's root filesystem is no longer read-only")
	}
	if g := p.Spec.Template.Spec.SecurityContext["fsGroup"]; g != 65532 {
		t.Errorf("persistence: the pod's fsGroup is %v, want 65532", g)
	}

	// fsGroup: added when podSecurityContext has none, kept when it has one.
	_, p, _ = deployment(t, "persistence-values.yaml", "--set", "podSecurityContext.fsGroup=null")
	if g := p.Spec.Template.Spec.SecurityContext["fsGroup"]; g != 65532 {
		t.Errorf("persistence without podSecurityContext.fsGroup: the pod's fsGroup is %v, want 65532", g)
	}
	if r := p.Spec.Template.Spec.SecurityContext["runAsNonRoot"]; r != true {
		t.Errorf("persistence: the pod's security context lost runAsNonRoot: %v", p.Spec.Template.Spec.SecurityContext)
	}
	_, p, _ = deployment(t, "persistence-values.yaml", "--set", "podSecurityContext.fsGroup=2000")
	if g := p.Spec.Template.Spec.SecurityContext["fsGroup"]; g != 2000 {
		t.Errorf("persistence with podSecurityContext.fsGroup=2000: the pod's fsGroup is %v, want 2000", g)
	}
	_, p, _ = deployment(t, "default-values.yaml", "--set", "podSecurityContext.fsGroup=null")
	if g, ok := p.Spec.Template.Spec.SecurityContext["fsGroup"]; ok {
		t.Errorf("without persistence or podSecurityContext.fsGroup, the pod has fsGroup %v", g)
	}

	// existingClaim: mounted, no claim rendered.
	dep, p, claims = deployment(t, "persistence-values.yaml", "--set", "persistence.existingClaim=my-claim")
	if len(claims) != 0 {
		t.Errorf("persistence.existingClaim: the chart renders %d PersistentVolumeClaims, want none", len(claims))
	}
	if name, _ := storageClaim(p); name != "my-claim" {
		t.Errorf("persistence.existingClaim=my-claim: the storage volume uses the claim %q", name)
	}
	if s := p.Spec.Strategy; s == nil || s.Type != "Recreate" {
		t.Errorf("persistence.existingClaim: the Deployment's strategy is %+v, want Recreate", s)
	}
	wantArgs(t, "the Deployment", exporterContainer(t, "the Deployment", dep), "--storage.path="+mountPath)

	// Defaults: no claim, the default (rolling) strategy, no flag, no volume.
	// persistence.existingClaim alone changes nothing either.
	for _, args := range [][]string{nil, {"--set", "persistence.existingClaim=my-claim"}} {
		dep, p, claims = deployment(t, "default-values.yaml", args...)
		c = exporterContainer(t, "the Deployment", dep)
		if len(claims) != 0 {
			t.Errorf("defaults %v: %d PersistentVolumeClaims rendered", args, len(claims))
		}
		if p.Spec.Strategy != nil {
			t.Errorf("defaults %v: the Deployment sets strategy %+v", args, p.Spec.Strategy)
		}
		for _, a := range c.Args {
			if strings.HasPrefix(a, "--storage.path") {
				t.Errorf("defaults %v: the container has %s", args, a)
			}
		}
		if m := storageMount(c); m != "" {
			t.Errorf("defaults %v: the storage volume is mounted at %s", args, m)
		}
		if _, ok := storageClaim(p); ok {
			t.Errorf("defaults %v: the pod has a storage volume", args)
		}
	}

	// Sharding: one claim per shard, from volumeClaimTemplates.
	_, docs := render(t, "sharded-persistence-values.yaml")
	if len(docs["StatefulSet"]) != 1 || len(docs["PersistentVolumeClaim"]) != 0 {
		t.Fatalf("sharded persistence: want a StatefulSet and no PersistentVolumeClaim, got %d and %d", len(docs["StatefulSet"]), len(docs["PersistentVolumeClaim"]))
	}
	var sts workload
	docs["StatefulSet"][0].decode(t, &sts)
	p = persistentWorkload{}
	docs["StatefulSet"][0].decode(t, &p)
	if v := p.Spec.VolumeClaimTemplates; len(v) != 1 || v[0].Metadata.Name != "storage" {
		t.Fatalf("sharded persistence: want one volumeClaimTemplate named storage, got %+v", v)
	}
	wantClaim(t, "the StatefulSet's volumeClaimTemplate", p.Spec.VolumeClaimTemplates[0], "512Mi", "", "ReadWriteOncePod")
	c = exporterContainer(t, "the StatefulSet", sts)
	wantArgs(t, "the StatefulSet", c, "--storage.path=/var/lib/lde-state", "--shard.total=3", "--shard.auto")
	if m := storageMount(c); m != "/var/lib/lde-state" {
		t.Errorf("the StatefulSet mounts the storage volume at %q, want /var/lib/lde-state", m)
	}
	if _, ok := storageClaim(p); ok {
		t.Error("sharded persistence: the pod template has a storage volume of its own, which would shadow the volumeClaimTemplate")
	}
	if g := p.Spec.Template.Spec.SecurityContext["fsGroup"]; g != 65532 {
		t.Errorf("sharded persistence: the pod's fsGroup is %v, want 65532", g)
	}
	_, docs = render(t, "sharded-values.yaml")
	var plain persistentWorkload
	docs["StatefulSet"][0].decode(t, &plain)
	if len(plain.Spec.VolumeClaimTemplates) != 0 || len(docs["PersistentVolumeClaim"]) != 0 {
		t.Error("sharding without persistence renders claims")
	}
}

// TestChartRejectsBadPersistence: the schema and the templates reject
// impossible persistence values.
func TestChartRejectsBadPersistence(t *testing.T) {
	for _, c := range []struct {
		title, values string
		args          []string
		message       string // in helm's error
	}{
		{"size that is no quantity", "persistence-values.yaml", []string{"--set", "persistence.size=lots"}, "/persistence/size"},
		{"size with a unit Kubernetes lacks", "persistence-values.yaml", []string{"--set", "persistence.size=1GB"}, "/persistence/size"},
		{"integer size", "persistence-values.yaml", []string{"--set", "persistence.size=1"}, "/persistence/size"},
		{"misspelled persistence key", "default-values.yaml", []string{"--set", "persistence.storageClass=gp3"}, "'storageClass' not allowed"},
		{"string for enabled", "default-values.yaml", []string{"--set-string", "persistence.enabled=yes"}, "/persistence/enabled"},
		{"read-only access mode", "persistence-values.yaml", []string{"--set", "persistence.accessModes[0]=ReadOnlyMany"}, "/persistence/accessModes/0"},
		{"unknown access mode", "persistence-values.yaml", []string{"--set", "persistence.accessModes[0]=RWO"}, "/persistence/accessModes/0"},
		{"no access mode", "persistence-values.yaml", []string{"--set-json", "persistence.accessModes=[]"}, "/persistence/accessModes"},
		{"relative mountPath", "persistence-values.yaml", []string{"--set", "persistence.mountPath=var/lib/x"}, "/persistence/mountPath"},
		{"mountPath /", "persistence-values.yaml", []string{"--set", "persistence.mountPath=/"}, "/persistence/mountPath"},
		{"existingClaim with sharding", "sharded-persistence-values.yaml", []string{"--set", "persistence.existingClaim=my-claim"}, "persistence.existingClaim cannot be used with sharding.enabled"},
		{"two replicas sharing a claim", "persistence-values.yaml", []string{"--set", "replicaCount=2"}, "keep replicaCount at 1"},
		{"--storage.path in extraArgs", "persistence-values.yaml", []string{"--set", "extraArgs[0]=--storage.path=/tmp"}, "extraArgs has --storage.path"},
	} {
		out, ok := helmTemplate(t, c.values, c.args...)
		if ok {
			t.Errorf("helm accepted %s (%v):\n%.300s", c.title, c.args, out)
		} else if !strings.Contains(out, c.message) {
			t.Errorf("helm rejected %s (%v) without saying %q:\n%.500s", c.title, c.args, c.message, out)
		}
	}
	// The defaults and the CI values are accepted.
	for _, v := range []string{"default-values.yaml", "persistence-values.yaml", "sharded-persistence-values.yaml"} {
		if out, ok := helmTemplate(t, v); !ok {
			t.Errorf("helm rejected ci/%s:\n%.500s", v, out)
		}
	}
}

// renderedConfig renders the chart and returns its ConfigMap's config.yaml
// as the exporter parses it.
func renderedConfig(t *testing.T, values string, args ...string) *config.Config {
	t.Helper()
	_, docs := render(t, values, args...)
	if len(docs["ConfigMap"]) != 1 {
		t.Fatalf("helm template %s %v: want one ConfigMap, got %d", values, args, len(docs["ConfigMap"]))
	}
	var cm struct{ Data map[string]string }
	docs["ConfigMap"][0].decode(t, &cm)
	c, err := config.Parse([]byte(cm.Data["config.yaml"]))
	if err != nil {
		t.Fatalf("helm template %s %v: the exporter rejects config.yaml: %v\n%s", values, args, err, cm.Data["config.yaml"])
	}
	return c
}

// TestChartDefaultsDiscoverAll: with no values at all the chart renders a
// configuration that discovers every durable function of the pod's region
// (one discovery entry with no region, filter, role or qualifier, and no
// static function: the SDK's region); config.region names another;
// config.functions or config.discovery replace that entry.
func TestChartDefaultsDiscoverAll(t *testing.T) {
	c := renderedConfig(t, "")
	if len(c.Functions) != 0 || len(c.Discovery) != 1 {
		t.Fatalf("no values: %d functions and %d discovery entries, want 0 and 1", len(c.Functions), len(c.Discovery))
	}
	d := c.Discovery[0]
	if c.Region != "" || d.Regions != nil || d.Tags != nil || d.NamePattern != "" || d.RoleARN != "" ||
		d.Qualifier != "" || d.Statuses != nil {
		t.Errorf("no values: region %q, discovery entry %+v, want every durable function of the SDK's region", c.Region, d)
	}

	// config.region names the region instead of the SDK.
	if c := renderedConfig(t, "", "--set", "config.region=eu-west-1"); c.Region != "eu-west-1" || len(c.Discovery) != 1 ||
		!slices.Equal(c.Discovery[0].Regions, []string{"eu-west-1"}) {
		t.Errorf("config.region=eu-west-1: region %q, discovery %+v", c.Region, c.Discovery)
	}
	// Static functions replace the default discovery.
	if c := renderedConfig(t, "default-values.yaml"); len(c.Functions) != 1 || len(c.Discovery) != 0 {
		t.Errorf("ci/default-values.yaml: %d functions and %d discovery entries, want 1 and 0", len(c.Functions), len(c.Discovery))
	}
	// So does a discovery entry of one's own.
	c = renderedConfig(t, "", "--set", "config.discovery[0].name_pattern=^orders-")
	if len(c.Discovery) != 1 || c.Discovery[0].NamePattern != "^orders-" || len(c.Functions) != 0 {
		t.Errorf("config.discovery[0].name_pattern set: %+v", c.Discovery)
	}
	// existingConfigMap: no ConfigMap, nothing to default.
	if _, docs := render(t, "", "--set", "existingConfigMap=mine"); len(docs["ConfigMap"]) != 0 {
		t.Errorf("existingConfigMap: %d ConfigMaps rendered", len(docs["ConfigMap"]))
	}
}

// TestChartGoMemLimit: GOMEMLIMIT is goMemLimitRatio (default 0.9) of the
// memory limit, in bytes, for every plain quantity; unset with a ratio of 0
// or no limit; a quantity the chart cannot read fails the render, naming
// it. The StatefulSet gets it too.
func TestChartGoMemLimit(t *testing.T) {
	env := func(w workload) (string, bool) {
		for _, e := range w.Spec.Template.Spec.Containers[0].Env {
			if e.Name == "GOMEMLIMIT" {
				return e.Value, true
			}
		}
		return "", false
	}
	for _, tc := range []struct {
		args []string
		want string // "" = unset
	}{
		{nil, "120795955"}, // 0.9 x 128Mi, the default limit
		{[]string{"--set", "resources.limits.memory=1Gi"}, "966367641"},
		{[]string{"--set", "resources.limits.memory=500M"}, "450000000"},
		{[]string{"--set", "resources.limits.memory=1.5Gi"}, "1449551462"},
		{[]string{"--set", "resources.limits.memory=1073741824"}, "966367641"},
		{[]string{"--set-json", "goMemLimitRatio=0.5"}, "67108864"}, // --set reads 0.5 as a string
		{[]string{"--set", "goMemLimitRatio=0"}, ""},
		{[]string{"--set", "resources.limits=null"}, ""},
	} {
		w, _, _ := deployment(t, "", tc.args...)
		got, ok := env(w)
		if (tc.want == "") == ok || got != tc.want {
			t.Errorf("%v: GOMEMLIMIT %q (set %v), want %q", tc.args, got, ok, tc.want)
		}
	}
	_, docs := render(t, "sharded-values.yaml")
	var sts workload
	docs["StatefulSet"][0].decode(t, &sts)
	if got, ok := env(sts); !ok || got == "" {
		t.Errorf("the StatefulSet has no GOMEMLIMIT")
	}
	out, ok := helmTemplate(t, "", "--set", "resources.limits.memory=1e9")
	if ok || !strings.Contains(out, `resources.limits.memory "1e9": goMemLimitRatio needs a plain quantity`) {
		t.Errorf("an unreadable memory limit: ok=%v\n%s", ok, out)
	}
	if out, ok := helmTemplate(t, "", "--set-json", "goMemLimitRatio=2"); ok {
		t.Errorf("goMemLimitRatio=2 accepted:\n%s", out)
	}
}
