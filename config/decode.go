package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/common/model"
	"gopkg.in/yaml.v3"
)

// problem is one configuration problem; line 0 means "no position".
type problem struct {
	line int
	msg  string
}

// maxProblems bounds the problems kept, so that a small file with many
// aliases cannot produce millions of messages.
const maxProblems = 1000

type problems struct {
	list    []problem
	dropped int // problems beyond maxProblems
}

func (p *problems) empty() bool { return len(p.list) == 0 && p.dropped == 0 }

// add records a problem as "line N: path: message" (parts omitted when
// line is 0 or path is empty).
func (p *problems) add(line int, path, format string, args ...any) {
	if len(p.list) >= maxProblems {
		p.dropped++
		return
	}
	msg := fmt.Sprintf(format, args...)
	if path != "" {
		msg = path + ": " + msg
	}
	if line > 0 {
		msg = fmt.Sprintf("line %d: %s", line, msg)
	}
	p.list = append(p.list, problem{line: line, msg: msg})
}

// joinProblems sorts by line (stable, positionless problems last) and joins.
func joinProblems(p *problems) error {
	ps := p.list
	sort.SliceStable(ps, func(i, j int) bool {
		a, b := ps[i].line, ps[j].line
		if a == 0 || b == 0 {
			return a != 0 && b == 0
		}
		return a < b
	})
	errs := make([]error, 0, len(ps)+1)
	for _, q := range ps {
		errs = append(errs, errors.New(q.msg))
	}
	if p.dropped > 0 {
		errs = append(errs, fmt.Errorf("too many problems: %d more not shown", p.dropped))
	}
	return errors.Join(errs...)
}

// field is a key (or list item) as written in the file.
type field struct {
	key, val *yaml.Node // val may be an alias; key is nil for list items
	bad      bool       // failed to decode, already reported
}

// decoder decodes a document node into the structs of this package by their
// yaml tags, recording every decoded key in fields by path (for example
// "functions[1].window"), so that validation can name lines and values as
// written and skip keys already reported. (yaml.v3's Decode gives up on a
// mapping at its first duplicate key, skips unmarshalers for nulls, ignores
// KnownFields in custom unmarshalers (go-yaml/yaml#460) and words its errors
// in Go terms; this reports every problem in file order in the file's terms.)
type decoder struct {
	probs  *problems
	fields map[string]field
}

// decode turns YAML into a Config with defaults applied. It returns a
// non-nil error only for YAML syntax errors; every other problem is
// returned in probs.
func decode(b []byte, probs *problems) (*Config, map[string]field, error) {
	c := Default()
	d := decoder{probs: probs, fields: map[string]field{}}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	var doc, extra yaml.Node
	if err := dec.Decode(&doc); errors.Is(err, io.EOF) { // empty or comments only
		return &c, d.fields, nil
	} else if err != nil {
		return nil, nil, err
	}
	if err := dec.Decode(&extra); err == nil {
		line := extra.Line
		if len(extra.Content) > 0 && extra.Content[0].Line > 0 {
			line = extra.Content[0].Line
		}
		probs.add(line, "", "unexpected second YAML document (only one is allowed)")
	} else if !errors.Is(err, io.EOF) {
		return nil, nil, err
	}

	root := &doc
	if root.Kind == yaml.DocumentNode {
		if len(root.Content) == 0 {
			return &c, d.fields, nil
		}
		root = root.Content[0]
	}
	switch root = resolve(root); {
	case isNull(root):
	case root.Kind != yaml.MappingNode:
		probs.add(root.Line, "", "expected a mapping at the top level, got %s", describe(root))
		d.fields["functions"] = field{bad: true} // don't also complain about missing functions
	default:
		d.mapping("", root, reflect.ValueOf(&c).Elem())
	}
	return &c, d.fields, nil
}

// keys walks the keys of m in order, reporting duplicate and non-string
// keys; handle returns false for an unknown key.
func (d *decoder) keys(path string, m *yaml.Node, handle func(key string, k, v *yaml.Node) bool) {
	seen := map[string]int{}
	for i := 0; i+1 < len(m.Content); i += 2 {
		k, v := m.Content[i], m.Content[i+1]
		rk := resolve(k)
		if rk.Kind != yaml.ScalarNode {
			d.probs.add(k.Line, path, "keys must be strings, got %s", describe(rk))
			continue
		}
		key := rk.Value
		if first, dup := seen[key]; dup {
			d.probs.add(k.Line, path, "duplicate key %q (first at line %d)", key, first)
			continue
		}
		seen[key] = k.Line
		if !handle(key, k, v) {
			d.probs.add(k.Line, path, "unknown key %q", key)
		}
	}
}

// mapping decodes m into the struct out: each key into the field with that
// yaml tag. Every other key is unknown, at any depth.
func (d *decoder) mapping(path string, m *yaml.Node, out reflect.Value) {
	d.keys(path, m, func(key string, k, v *yaml.Node) bool {
		f, ok := fieldByTag(out.Type(), key)
		if !ok {
			return false
		}
		kpath := join(path, key)
		val := out.FieldByIndex(f.Index)
		ok = d.value(kpath, v, val)
		if hint := f.Tag.Get("nonempty"); ok && hint != "" && val.String() == "" { // a string field
			d.probs.add(v.Line, kpath, "must not be empty (%s)", hint)
			ok = false
		}
		d.fields[kpath] = field{key: k, val: v, bad: !ok}
		return true
	})
}

func fieldByTag(t reflect.Type, key string) (reflect.StructField, bool) {
	for i := range t.NumField() {
		if f := t.Field(i); f.Tag.Get("yaml") == key && key != "" {
			return f, true
		}
	}
	return reflect.StructField{}, false
}

// value decodes v into out, a field of a config struct, by its type and
// reports whether it decoded (if not, out is not to be checked further).
func (d *decoder) value(path string, v *yaml.Node, out reflect.Value) (ok bool) {
	switch p := out.Addr().Interface().(type) {
	case *string:
		*p, ok = d.str(path, v)
	case *int:
		*p, ok = d.integer(path, v)
	case *float64:
		*p, ok = d.float(path, v)
	case *time.Duration:
		*p, ok = d.duration(path, v)
	case *[]time.Duration: // bad items leave no order to check
		*p, ok = list(d, path, v, d.duration)
	case *[]string: // bad items are marked; the others are still checked
		*p, _ = list(d, path, v, d.str)
		ok = *p != nil
	case *map[string]string:
		*p, ok = d.tags(path, v)
	default: // []Function, []Discovery
		ok = d.entries(path, v, out)
	}
	return ok
}

// entries decodes a list of mappings into out, a slice of Function or
// Discovery, setting the Line of each. A null list is an empty one. An item
// that is not a mapping is reported and kept as a zero entry marked bad, so
// that indexes match the file.
func (d *decoder) entries(path string, v *yaml.Node, out reflect.Value) bool {
	if isNull(resolve(v)) {
		return true // validate reports it if there is no other entry
	}
	n, ok := d.expect(path, v, yaml.SequenceNode, "a list")
	if !ok {
		return false
	}
	for i, item := range n.Content {
		ipath := index(path, i)
		e := reflect.New(out.Type().Elem()).Elem()
		e.FieldByName("Line").SetInt(int64(item.Line))
		if m := resolve(item); m.Kind == yaml.MappingNode {
			d.mapping(ipath, m, e)
		} else {
			d.probs.add(item.Line, ipath, "expected a mapping, got %s", describe(m))
			d.fields[ipath] = field{val: item, bad: true}
		}
		out.Set(reflect.Append(out, e))
	}
	return true
}

// list decodes a list of scalars with item, marking the items that fail. It
// reports whether v is a list and every item decoded.
func list[T any](d *decoder, path string, v *yaml.Node, item func(string, *yaml.Node) (T, bool)) ([]T, bool) {
	n, ok := d.expect(path, v, yaml.SequenceNode, "a list")
	if !ok {
		return nil, false
	}
	out := make([]T, 0, len(n.Content))
	for i, e := range n.Content {
		x, good := item(index(path, i), e)
		if !good {
			d.fields[index(path, i)] = field{val: e, bad: true}
			ok = false
		}
		out = append(out, x)
	}
	return out, ok
}

// tags decodes a mapping of strings to strings. Values that are not strings
// are reported and kept as "".
func (d *decoder) tags(path string, v *yaml.Node) (map[string]string, bool) {
	n, ok := d.expect(path, v, yaml.MappingNode, "a mapping")
	if !ok {
		return nil, false
	}
	out := map[string]string{}
	d.keys(path, n, func(key string, k, v *yaml.Node) bool {
		s, ok := d.str(path+"."+key, v)
		out[key] = s
		d.fields[path+"."+key] = field{key: k, val: v, bad: !ok}
		return true
	})
	return out, len(out) > 0 || len(n.Content) == 0 // all keys bad: reported already
}

// expect returns the node v refers to if it is of kind, else reports that
// v is null or not what was wanted (e.g. "a string").
func (d *decoder) expect(path string, v *yaml.Node, kind yaml.Kind, want string) (*yaml.Node, bool) {
	switch n := resolve(v); {
	case isNull(n):
		d.probs.add(v.Line, path, "missing value")
	case n.Kind != kind:
		d.probs.add(v.Line, path, "expected %s, got %s", want, describe(n))
	default:
		return n, true
	}
	return nil, false
}

// str decodes any non-null scalar as its text.
func (d *decoder) str(path string, v *yaml.Node) (string, bool) {
	if n, ok := d.expect(path, v, yaml.ScalarNode, "a string"); ok {
		return n.Value, true
	}
	return "", false
}

// duration decodes a Prometheus-style duration string ("30s", "1h30m", "1d").
// A leading "-" is accepted so that validation can report the sign clearly.
func (d *decoder) duration(path string, v *yaml.Node) (time.Duration, bool) {
	n, ok := d.expect(path, v, yaml.ScalarNode, "a duration string")
	if !ok {
		return 0, false
	}
	if tag := n.ShortTag(); tag == "!!int" || tag == "!!float" {
		d.probs.add(v.Line, path, "invalid duration %q: not a valid duration string (a number needs a unit, e.g. \"%ss\")", n.Value, n.Value)
		return 0, false
	}
	dur, err := parseDuration(n.Value)
	if err != nil {
		d.probs.add(v.Line, path, "invalid duration %q: %s", n.Value, err)
		return 0, false
	}
	return dur, true
}

// parseDuration wraps model.ParseDuration, allowing a leading "-" and
// stripping the repeated input from its error messages.
func parseDuration(s string) (time.Duration, error) {
	body, neg := strings.CutPrefix(s, "-")
	md, err := model.ParseDuration(body)
	if err != nil {
		msg := err.Error()
		msg = strings.TrimSuffix(msg, ": "+strconv.Quote(body))
		msg = strings.TrimSuffix(msg, " in duration "+strconv.Quote(body))
		return 0, errors.New(msg)
	}
	if neg {
		return -time.Duration(md), nil
	}
	return time.Duration(md), nil
}

func (d *decoder) integer(path string, v *yaml.Node) (int, bool) {
	n, ok := d.expect(path, v, yaml.ScalarNode, "an integer")
	if !ok {
		return 0, false
	}
	i, err := strconv.ParseInt(n.Value, 10, 64)
	if err != nil && n.ShortTag() == "!!int" {
		err = n.Decode(&i) // YAML forms such as 0x10 or 0o17
	}
	if err != nil || i < math.MinInt || i > math.MaxInt {
		d.probs.add(v.Line, path, "invalid integer %q", n.Value)
		return 0, false
	}
	return int(i), true
}

func (d *decoder) float(path string, v *yaml.Node) (float64, bool) {
	n, ok := d.expect(path, v, yaml.ScalarNode, "a number")
	if !ok {
		return 0, false
	}
	f, err := strconv.ParseFloat(n.Value, 64)
	if tag := n.ShortTag(); err != nil && (tag == "!!int" || tag == "!!float") {
		err = n.Decode(&f) // YAML forms such as .inf or 0x10
	}
	if err != nil {
		d.probs.add(v.Line, path, "invalid number %q", n.Value)
		return 0, false
	}
	return f, true
}

// join and index build the paths of keys and list items.
func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func index(path string, i int) string { return path + "[" + strconv.Itoa(i) + "]" }

// resolve follows aliases to the node they refer to.
func resolve(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode && n.Alias != nil && i < 64; i++ {
		n = n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool {
	return n == nil || n.Kind == 0 || (n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null")
}

// describe names a node for "got ..." messages.
func describe(n *yaml.Node) string {
	switch {
	case isNull(n):
		return "null"
	case n.Kind == yaml.MappingNode:
		return "a mapping"
	case n.Kind == yaml.SequenceNode:
		return "a list"
	case n.Kind == yaml.AliasNode:
		return "an alias"
	}
	return strconv.Quote(n.Value)
}
