package deploy

import (
	"errors"
	"io"
	"os"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

func read(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// parseYAML parses the file, which must hold exactly one YAML document,
// into its node tree and returns the document's root node. Key order and
// comments are kept. A key repeated in a mapping is an error: yaml.v3 does
// not reject it when it builds nodes, but helm and promtool would read only
// one of the two.
func parseYAML(t *testing.T, name string) *yaml.Node {
	t.Helper()
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(read(t, name)), &doc); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 {
		t.Fatalf("%s: not a YAML document", name)
	}
	checkNoDuplicateKeys(t, name, doc.Content[0])
	return doc.Content[0]
}

func checkNoDuplicateKeys(t *testing.T, name string, n *yaml.Node) {
	t.Helper()
	if n.Kind == yaml.MappingNode {
		seen := map[string]int{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			if line, dup := seen[k.Value]; dup {
				t.Errorf("%s:%d: key %q already defined at line %d", name, k.Line, k.Value, line)
			}
			seen[k.Value] = k.Line
		}
	}
	for _, c := range n.Content {
		checkNoDuplicateKeys(t, name, c)
	}
}

// decodeYAMLStrict decodes the file, one YAML document, into v; a key that
// v has no field for is an error (as it is for helm's schema and for
// promtool), so a misspelled key cannot pass unnoticed.
func decodeYAMLStrict(t *testing.T, name string, v any) {
	t.Helper()
	parseYAML(t, name) // one document, no repeated key
	dec := yaml.NewDecoder(strings.NewReader(read(t, name)))
	dec.KnownFields(true)
	if err := dec.Decode(v); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
}

// manifest is one Kubernetes object of a helm template output.
type manifest struct {
	Kind     string
	Metadata objectMeta
	node     *yaml.Node
}

// decode decodes the whole object into v.
func (m manifest) decode(t *testing.T, v any) {
	t.Helper()
	if err := m.node.Decode(v); err != nil {
		t.Fatalf("%s %s: %v", m.Kind, m.Metadata.Name, err)
	}
}

// manifests parses helm's output, a stream of YAML documents, and returns
// its objects by kind.
func manifests(t *testing.T, out string) map[string][]manifest {
	t.Helper()
	docs := map[string][]manifest{}
	dec := yaml.NewDecoder(strings.NewReader(out))
	for {
		var n yaml.Node
		err := dec.Decode(&n)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("helm output is not YAML: %v\n%s", err, out)
		}
		if len(n.Content) == 0 || n.Content[0].Kind == yaml.ScalarNode && n.Content[0].Tag == "!!null" {
			continue // an empty document (comments only)
		}
		checkNoDuplicateKeys(t, "helm output", &n)
		m := manifest{node: &n}
		if err := n.Decode(&m); err != nil {
			t.Fatalf("helm output: %v", err)
		}
		if m.Kind == "" {
			t.Fatalf("helm output: a document (line %d) has no kind", n.Line)
		}
		docs[m.Kind] = append(docs[m.Kind], m)
	}
	return docs
}

// The parts of Kubernetes objects the chart tests read.

type objectMeta struct {
	Name   string
	Labels map[string]string
}

type labelSelector struct {
	MatchLabels      map[string]string `yaml:"matchLabels"`
	MatchExpressions []struct {
		Key, Operator string
		Values        []string
	} `yaml:"matchExpressions"`
}

// matches reports whether the selector selects an object with these labels,
// as Kubernetes evaluates it.
func (s labelSelector) matches(labels map[string]string) bool {
	for k, v := range s.MatchLabels {
		if labels[k] != v {
			return false
		}
	}
	for _, e := range s.MatchExpressions {
		v, ok := labels[e.Key]
		switch e.Operator {
		case "In":
			if !ok || !slices.Contains(e.Values, v) {
				return false
			}
		case "NotIn":
			if ok && slices.Contains(e.Values, v) {
				return false
			}
		case "Exists":
			if !ok {
				return false
			}
		case "DoesNotExist":
			if ok {
				return false
			}
		default:
			return false
		}
	}
	return true
}

// workload is a Deployment or a StatefulSet.
type workload struct {
	Spec struct {
		Replicas            *int
		ServiceName         string `yaml:"serviceName"`
		PodManagementPolicy string `yaml:"podManagementPolicy"`
		Selector            labelSelector
		Template            struct {
			Metadata objectMeta
			Spec     podSpec
		}
	}
}

type podSpec struct {
	Containers []container
	Volumes    []volume
}

type container struct {
	Name string
	Args []string
	Env  []struct {
		Name      string
		Value     string
		ValueFrom *struct {
			FieldRef *struct {
				FieldPath string `yaml:"fieldPath"`
			} `yaml:"fieldRef"`
		} `yaml:"valueFrom"`
	}
	VolumeMounts []struct {
		Name      string
		MountPath string `yaml:"mountPath"`
	} `yaml:"volumeMounts"`
	LivenessProbe   probe `yaml:"livenessProbe"`
	ReadinessProbe  probe `yaml:"readinessProbe"`
	SecurityContext struct {
		ReadOnlyRootFilesystem *bool `yaml:"readOnlyRootFilesystem"`
	} `yaml:"securityContext"`
}

type probe struct {
	TCPSocket *struct {
		Port any
	} `yaml:"tcpSocket"`
	HTTPGet *struct {
		Path        string
		Port        any
		Scheme      string
		HTTPHeaders []struct{ Name, Value string } `yaml:"httpHeaders"`
	} `yaml:"httpGet"`
}

type volume struct {
	Name      string
	Projected *struct {
		Sources []struct {
			Secret *struct {
				Name  string
				Items []struct{ Key, Path string }
			}
		}
	}
}

type service struct {
	Metadata objectMeta
	Spec     struct {
		ClusterIP string `yaml:"clusterIP"`
		Selector  map[string]string
	}
}

type serviceMonitor struct {
	Spec struct {
		Selector  labelSelector
		Endpoints []struct {
			Port      string
			Scheme    string
			TLSConfig map[string]any `yaml:"tlsConfig"`
			BasicAuth *struct {
				Username, Password struct{ Name, Key string }
			} `yaml:"basicAuth"`
		}
	}
}

type podDisruptionBudget struct {
	Spec struct {
		Selector labelSelector
	}
}
