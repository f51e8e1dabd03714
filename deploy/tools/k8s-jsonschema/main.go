// Command k8s-jsonschema turns the Kubernetes OpenAPI v2 document
// (api/openapi-spec/swagger.json of module k8s.io/kubernetes) and
// CustomResourceDefinitions (JSON) into standalone JSON schemas laid out the
// way kubeconform looks them up, so that manifests can be validated offline:
//
//	k8s-jsonschema -out DIR -swagger swagger.json [-crd crd.json]...
//	kubeconform -strict -schema-location 'DIR/{{ .ResourceKind }}{{ .KindSuffix }}.json' manifests.yaml
//
// One file is written per group/version/kind, named
// {kind}-{group prefix}-{version}.json ({kind}-{version}.json for the core
// group), lower case, like github.com/yannh/kubernetes-json-schema's
// "-standalone-strict" schemas: every $ref is inlined (a recursive reference
// becomes {}), every object that lists its properties rejects unknown ones
// unless it preserves unknown fields, optional fields may be null,
// int-or-string fields take a string or an integer and quantities a string or
// a number. Formats are dropped (Kubernetes' own int32, byte... are not JSON
// Schema formats). It uses the standard library only.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, ",") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

type gvk struct{ Group, Version, Kind string }

func (g gvk) fileName() string {
	name := strings.ToLower(g.Kind)
	if g.Group != "" {
		name += "-" + strings.ToLower(strings.Split(g.Group, ".")[0])
	}
	return name + "-" + strings.ToLower(g.Version) + ".json"
}

func main() {
	out := flag.String("out", "", "output directory (created)")
	swagger := flag.String("swagger", "", "Kubernetes OpenAPI v2 swagger.json")
	var crds stringList
	flag.Var(&crds, "crd", "CustomResourceDefinition as JSON (repeatable)")
	flag.Parse()
	if *out == "" || (*swagger == "" && len(crds) == 0) {
		flag.Usage()
		os.Exit(2)
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		fail(err)
	}
	n := 0
	if *swagger != "" {
		c, err := fromSwagger(*swagger, *out)
		if err != nil {
			fail(err)
		}
		n += c
	}
	for _, f := range crds {
		c, err := fromCRD(f, *out)
		if err != nil {
			fail(err)
		}
		n += c
	}
	fmt.Printf("k8s-jsonschema: wrote %d schemas to %s\n", n, *out)
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "k8s-jsonschema:", err)
	os.Exit(1)
}

func readJSON(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

func write(dir string, g gvk, schema map[string]any) error {
	schema["$schema"] = "http://json-schema.org/draft-07/schema#"
	b, err := json.Marshal(schema)
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, g.fileName()), b, 0o644)
}

const (
	refPrefix   = "#/definitions/"
	quantityRef = "io.k8s.apimachinery.pkg.api.resource.Quantity"
)

func fromSwagger(path, out string) (int, error) {
	var doc struct {
		Definitions map[string]map[string]any `json:"definitions"`
	}
	if err := readJSON(path, &doc); err != nil {
		return 0, err
	}
	if len(doc.Definitions) == 0 {
		return 0, fmt.Errorf("%s: no definitions", path)
	}
	names := make([]string, 0, len(doc.Definitions))
	for name := range doc.Definitions {
		names = append(names, name)
	}
	sort.Strings(names)
	n := 0
	for _, name := range names {
		def := doc.Definitions[name]
		raw, ok := def["x-kubernetes-group-version-kind"].([]any)
		if !ok {
			continue
		}
		c := &converter{defs: doc.Definitions, inProgress: map[string]bool{name: true}}
		schema := c.convert(def, true).(map[string]any)
		for _, r := range raw {
			m, _ := r.(map[string]any)
			g := gvk{Group: str(m["group"]), Version: str(m["version"]), Kind: str(m["kind"])}
			if g.Kind == "" || g.Version == "" {
				return n, fmt.Errorf("%s: bad x-kubernetes-group-version-kind %v", name, r)
			}
			if err := write(out, g, clone(schema)); err != nil {
				return n, err
			}
			n++
		}
	}
	return n, nil
}

func fromCRD(path, out string) (int, error) {
	var crd struct {
		Kind string `json:"kind"`
		Spec struct {
			Group string `json:"group"`
			Names struct {
				Kind string `json:"kind"`
			} `json:"names"`
			Versions []struct {
				Name   string `json:"name"`
				Schema struct {
					OpenAPIV3Schema map[string]any `json:"openAPIV3Schema"`
				} `json:"schema"`
			} `json:"versions"`
		} `json:"spec"`
	}
	if err := readJSON(path, &crd); err != nil {
		return 0, err
	}
	if crd.Kind != "CustomResourceDefinition" || crd.Spec.Names.Kind == "" {
		return 0, fmt.Errorf("%s is not a CustomResourceDefinition", path)
	}
	n := 0
	for _, v := range crd.Spec.Versions {
		if v.Schema.OpenAPIV3Schema == nil {
			return n, fmt.Errorf("%s: version %s has no openAPIV3Schema", path, v.Name)
		}
		c := &converter{}
		schema := c.convert(v.Schema.OpenAPIV3Schema, true).(map[string]any)
		if err := write(out, gvk{Group: crd.Spec.Group, Version: v.Name, Kind: crd.Spec.Names.Kind}, schema); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

type converter struct {
	defs       map[string]map[string]any
	inProgress map[string]bool // definitions being inlined, to cut recursion
}

// convert returns a converted deep copy of the schema node s. required says
// whether the node is a required property (or a root), which must not be null.
func (c *converter) convert(s any, required bool) any {
	m, ok := s.(map[string]any)
	if !ok {
		return s
	}
	if ref, ok := m["$ref"].(string); ok {
		name := strings.TrimPrefix(ref, refPrefix)
		var r any
		switch {
		case name == quantityRef:
			r = map[string]any{"oneOf": []any{map[string]any{"type": "string"}, map[string]any{"type": "number"}}}
		case c.inProgress[name] || c.defs[name] == nil:
			r = map[string]any{} // recursive (or unknown) reference: accept anything there
		default:
			c.inProgress[name] = true
			r = c.convert(c.defs[name], true)
			delete(c.inProgress, name)
		}
		rm := r.(map[string]any)
		if d, ok := m["description"]; ok {
			rm["description"] = d
		}
		if !required {
			rm = nullable(rm)
		}
		return rm
	}

	out := map[string]any{}
	for k, v := range m {
		switch k {
		case "format", "x-kubernetes-group-version-kind":
			// dropped
		case "properties":
			req := map[string]bool{}
			for _, r := range asSlice(m["required"]) {
				req[str(r)] = true
			}
			props := map[string]any{}
			for name, p := range v.(map[string]any) {
				props[name] = c.convert(p, req[name])
			}
			out[k] = props
		case "items", "additionalProperties", "not":
			out[k] = c.convert(v, true)
		case "allOf", "anyOf", "oneOf":
			var l []any
			for _, e := range asSlice(v) {
				l = append(l, c.convert(e, true))
			}
			out[k] = l
		default:
			out[k] = v
		}
	}

	if m["format"] == "int-or-string" || m["x-kubernetes-int-or-string"] == true {
		delete(out, "type")
		out["oneOf"] = []any{map[string]any{"type": "string"}, map[string]any{"type": "integer"}}
	}
	if _, hasProps := out["properties"]; hasProps {
		if _, set := out["additionalProperties"]; !set && m["x-kubernetes-preserve-unknown-fields"] != true {
			out["additionalProperties"] = false
		}
	}
	if !required || m["nullable"] == true {
		out = nullable(out)
	}
	return out
}

// nullable lets the schema also accept null (what an empty YAML value is).
func nullable(m map[string]any) map[string]any {
	switch t := m["type"].(type) {
	case string:
		m["type"] = []any{t, "null"}
		if e, ok := m["enum"].([]any); ok {
			m["enum"] = append(e, nil)
		}
	case nil:
		if o, ok := m["oneOf"].([]any); ok {
			m["oneOf"] = append(o, map[string]any{"type": "null"})
		}
	}
	return m
}

func asSlice(v any) []any { l, _ := v.([]any); return l }

func str(v any) string { s, _ := v.(string); return s }

func clone(m map[string]any) map[string]any {
	b, _ := json.Marshal(m)
	var c map[string]any
	_ = json.Unmarshal(b, &c)
	return c
}
