package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/common/model"
	"gopkg.in/yaml.v3"
)

// maxProblems bounds the problems kept, so that a small file with many
// aliases cannot produce millions of messages.
const maxProblems = 1000

type problem struct {
	line int // 0: no position
	msg  string
}

type problems struct {
	list    []problem
	dropped int // problems beyond maxProblems
}

// add records a problem as "line N: path: message", leaving out the line if
// it is 0 and the path if it is empty.
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
	p.list = append(p.list, problem{line, msg})
}

// err sorts the problems by line (stably, positionless ones last) and joins
// them; it is nil if there are none.
func (p *problems) err() error {
	sort.SliceStable(p.list, func(i, j int) bool {
		a, b := p.list[i].line, p.list[j].line
		if a == 0 || b == 0 {
			return a != 0 && b == 0
		}
		return a < b
	})
	var errs []error
	for _, q := range p.list {
		errs = append(errs, errors.New(q.msg))
	}
	if p.dropped > 0 {
		errs = append(errs, fmt.Errorf("too many problems: %d more not shown", p.dropped))
	}
	return errors.Join(errs...)
}

// field is a key or list item as written in the file.
type field struct {
	keyLine, line int    // of the key (0 for list items) and of the value
	raw           string // the value as written, if a scalar
	bad           bool   // failed to decode, reported already
}

// decoder decodes a document into the structs of this package by their yaml
// tags, recording every key and list item in fields by path (for example
// "functions[1].window") so that validation can name lines and values as
// written and skip values already reported. (yaml.v3's Decode gives up on a
// mapping at its first duplicate key, skips unmarshalers for nulls, ignores
// KnownFields in custom unmarshalers (go-yaml/yaml#460) and words its errors
// in Go terms; this reports every problem in file order in the file's terms.)
type decoder struct {
	probs  *problems
	fields map[string]field
}

// decode turns YAML into a Config with defaults applied. It returns an
// error only for YAML syntax errors; every other problem goes to probs.
func decode(b []byte, probs *problems) (*Config, map[string]field, error) {
	c := Default()
	d := decoder{probs: probs, fields: map[string]field{}}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	var doc, extra yaml.Node // a document node has its content as only child
	if err := dec.Decode(&doc); err != nil && !errors.Is(err, io.EOF) {
		return nil, nil, syntaxError(b, err)
	}
	if err := dec.Decode(&extra); err == nil {
		probs.add(extra.Content[0].Line, "", "unexpected second YAML document (only one is allowed)")
	} else if !errors.Is(err, io.EOF) {
		return nil, nil, syntaxError(b, err)
	}
	root := &doc // an empty node if there is no document
	if len(doc.Content) > 0 {
		root = resolve(doc.Content[0])
	}
	switch {
	case isNull(root):
	case root.Kind != yaml.MappingNode:
		probs.add(root.Line, "", "expected a mapping at the top level, got %s", describe(root))
		d.fields["functions"] = field{bad: true} // don't also complain about missing functions
	default:
		d.mapping("", root, reflect.ValueOf(&c).Elem())
	}
	return &c, d.fields, nil
}

// mapping decodes m into out, a struct (each key into the field with that
// yaml tag; any other key is unknown, at any depth) or the tags map (any
// key), reporting duplicate and non-string keys.
func (d *decoder) mapping(path string, m *yaml.Node, out reflect.Value) {
	seen := map[string]int{}
	for i := 0; i+1 < len(m.Content); i += 2 {
		k, v := m.Content[i], m.Content[i+1]
		rk := resolve(k)
		key := rk.Value
		first, dup := seen[key]
		switch {
		case rk.Kind != yaml.ScalarNode:
			d.probs.add(k.Line, path, "keys must be strings, got %s", describe(rk))
			continue
		case dup:
			d.probs.add(k.Line, path, "duplicate key %q (first at line %d)", key, first)
			continue
		}
		seen[key] = k.Line
		val, hint, known := target(out, key)
		if !known {
			d.probs.add(k.Line, path, "unknown key %q", key)
			continue
		}
		kpath := join(path, key)
		ok := d.value(kpath, v, val)
		if ok && hint != "" && val.String() == "" {
			d.probs.add(v.Line, kpath, "must not be empty (%s)", hint)
			ok = false
		}
		if out.Kind() == reflect.Map {
			out.SetMapIndex(reflect.ValueOf(key), val)
		}
		d.fields[kpath] = field{k.Line, v.Line, resolve(v).Value, !ok}
	}
}

// target returns where the value of key goes in out: a new map value, or
// the struct field with that yaml tag and its nonempty tag.
func target(out reflect.Value, key string) (val reflect.Value, hint string, known bool) {
	if out.Kind() == reflect.Map {
		return reflect.New(out.Type().Elem()).Elem(), "", true
	}
	for i := range out.NumField() {
		if f := out.Type().Field(i); key != "" && f.Tag.Get("yaml") == key {
			return out.Field(i), f.Tag.Get("nonempty"), true
		}
	}
	return reflect.Value{}, "", false
}

// value decodes v into out by its type and reports whether it decoded; if
// not, out is left zero.
func (d *decoder) value(path string, v *yaml.Node, out reflect.Value) bool {
	var ok bool
	switch n := resolve(v); out.Kind() {
	case reflect.Struct: // an entry of functions or discovery
		if ok = n.Kind == yaml.MappingNode; ok {
			d.mapping(path, n, out)
		} else {
			d.probs.add(v.Line, path, "expected a mapping, got %s", describe(n))
		}
	case reflect.Map: // tags; values that are not strings are kept as ""
		if n, ok = d.expect(path, v, yaml.MappingNode, "a mapping"); ok {
			out.Set(reflect.MakeMap(out.Type()))
			d.mapping(path, n, out)
			ok = out.Len() > 0 || len(n.Content) == 0 // else every key was reported
		}
	case reflect.Slice:
		ok = d.list(path, v, out)
	default:
		ok = d.scalar(path, v, out)
	}
	if !ok {
		out.SetZero()
	}
	return ok
}

// list decodes a list into out, a slice of entries (a null or empty list
// leaves it nil) or of scalars. An item that does not decode is reported,
// marked bad and kept as a zero value, so that indexes match the file; the
// other items are still checked. Only a list of durations (the buckets,
// which have an order to check) is then bad as a whole.
func (d *decoder) list(path string, v *yaml.Node, out reflect.Value) bool {
	entries := out.Type().Elem().Kind() == reflect.Struct
	if n := resolve(v); entries && (isNull(n) || n.Kind == yaml.SequenceNode && len(n.Content) == 0) {
		return true // validate reports it if there is no other entry
	}
	n, ok := d.expect(path, v, yaml.SequenceNode, "a list")
	if !ok {
		return false
	}
	out.Set(reflect.MakeSlice(out.Type(), len(n.Content), len(n.Content)))
	for i, item := range n.Content {
		good := d.value(index(path, i), item, out.Index(i))
		if entries {
			out.Index(i).FieldByName("Line").SetInt(int64(item.Line))
		}
		d.fields[index(path, i)] = field{line: item.Line, bad: !good}
		ok = ok && good
	}
	return ok || out.Type() != reflect.TypeFor[[]time.Duration]()
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

// wants names what a scalar of each type is expected to be.
var wants = map[reflect.Type]string{
	reflect.TypeFor[string]():        "a string",
	reflect.TypeFor[int]():           "an integer",
	reflect.TypeFor[float64]():       "a number",
	reflect.TypeFor[time.Duration](): "a duration string",
}

// scalar decodes v into out, a string (any scalar, as written), int,
// float64 or time.Duration.
func (d *decoder) scalar(path string, v *yaml.Node, out reflect.Value) bool {
	n, ok := d.expect(path, v, yaml.ScalarNode, wants[out.Type()])
	if !ok {
		return false
	}
	var err error
	tag := n.ShortTag()
	number := tag == "!!int" || tag == "!!float"
	switch p := out.Addr().Interface().(type) {
	case *string:
		*p = n.Value
	case *time.Duration:
		*p, err = parseDuration(n.Value, number)
	case *int:
		if *p, err = strconv.Atoi(n.Value); err != nil && tag == "!!int" {
			err = n.Decode(p) // YAML forms such as 0x10 or 0o17
		}
		if err != nil {
			err = fmt.Errorf("invalid integer %q", n.Value)
		}
	case *float64:
		if *p, err = strconv.ParseFloat(n.Value, 64); err != nil && number {
			err = n.Decode(p) // YAML forms such as .inf or 0x10
		}
		if err != nil {
			err = fmt.Errorf("invalid number %q", n.Value)
		}
	}
	if err != nil {
		d.probs.add(v.Line, path, "%s", err)
	}
	return err == nil
}

// parseDuration parses a Prometheus-style duration ("30s", "1h30m", "1d"),
// and also a leading "-" so that validation can report the sign clearly.
func parseDuration(s string, number bool) (time.Duration, error) {
	if number {
		return 0, fmt.Errorf("invalid duration %q: not a valid duration string (a number needs a unit, e.g. \"%ss\")", s, s)
	}
	body, neg := strings.CutPrefix(s, "-")
	d, err := model.ParseDuration(body)
	if err != nil { // without the input it repeats
		msg := strings.TrimSuffix(err.Error(), ": "+strconv.Quote(body))
		msg = strings.TrimSuffix(msg, " in duration "+strconv.Quote(body))
		return 0, fmt.Errorf("invalid duration %q: %s", s, msg)
	}
	if neg {
		d = -d
	}
	return time.Duration(d), nil
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
