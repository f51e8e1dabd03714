package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
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

// src is where a decoded value came from.
type src struct {
	line int    // line of the value
	raw  string // the scalar as written
}

// fileInfo records positions of decoded values so that validate can name
// lines and values as written, and which keys already failed to decode.
type fileInfo struct {
	top           map[string]src  // successfully decoded top-level keys
	bad           map[string]bool // top-level keys that failed to decode
	functionsLine int             // line of the "functions" key, 0 if absent
	entries       int             // number of entries in the functions list
	funcs         []*entryInfo    // parallel to Config.Functions
	discoveryLine int             // line of the "discovery" key, 0 if absent
	discEntries   int             // number of entries in the discovery list
	discs         []*entryInfo    // parallel to Config.Discovery
}

// entryInfo describes one entry of the functions or discovery list.
type entryInfo struct {
	index    int                  // index in the list of the file
	fields   map[string]src       // successfully decoded keys
	bad      map[string]bool      // keys that failed to decode
	lists    map[string]*listInfo // items of the list-valued keys (statuses, regions)
	tagLines map[string]int       // line of each tags key
}

// listInfo records the items of a list of strings.
type listInfo struct {
	lines []int        // line of each item
	bad   map[int]bool // items that failed to decode
}

// decode turns YAML into a Config with defaults applied. It returns a
// non-nil error only for YAML syntax errors; every other problem is
// returned in probs.
func decode(b []byte, probs *problems) (*Config, *fileInfo, error) {
	c := Default()
	info := &fileInfo{top: map[string]src{}, bad: map[string]bool{}}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) { // empty or comments only
			return &c, info, nil
		}
		return nil, nil, err
	}
	var extra yaml.Node
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
			return &c, info, nil
		}
		root = root.Content[0]
	}
	root = resolve(root)
	if isNull(root) {
		return &c, info, nil
	}
	if root.Kind != yaml.MappingNode {
		probs.add(root.Line, "", "expected a mapping at the top level, got %s", describe(root))
		info.bad["functions"] = true // don't also complain about missing functions
		return &c, info, nil
	}

	d := decoder{probs: probs}
	d.mapping(root, "", func(key string, k, v *yaml.Node) bool {
		ok := true
		switch key {
		case "region":
			c.Region, ok = d.str(key, v)
		case "endpoint":
			c.Endpoint, ok = d.str(key, v)
		case "interval":
			c.Interval, ok = d.duration(key, v)
		case "window":
			c.Window, ok = d.duration(key, v)
		case "resync_interval":
			c.ResyncInterval, ok = d.duration(key, v)
		case "max_idle_interval":
			c.MaxIdleInterval, ok = d.duration(key, v)
		case "duration_buckets":
			c.DurationBuckets, ok = d.durationList(key, v)
		case "account_id":
			c.AccountID, ok = d.str(key, v)
		case "overlap":
			c.Overlap, ok = d.duration(key, v)
		case "page_size":
			c.PageSize, ok = d.integer(key, v)
		case "max_concurrency":
			c.MaxConcurrency, ok = d.integer(key, v)
		case "list_requests_per_second":
			c.ListRequestsPerSecond, ok = d.float(key, v)
		case "get_requests_per_second":
			c.GetRequestsPerSecond, ok = d.float(key, v)
		case "functions":
			info.functionsLine = k.Line
			ok = d.functions(v, &c, info)
		case "discovery":
			info.discoveryLine = k.Line
			ok = d.discovery(v, &c, info)
		default:
			return false
		}
		if ok {
			info.top[key] = src{line: valueLine(v), raw: resolve(v).Value}
		} else {
			info.bad[key] = true
		}
		return true
	})
	return &c, info, nil
}

type decoder struct {
	probs *problems
}

// mapping walks the keys of m in order, reporting duplicate and non-string
// keys; handle returns false for an unknown key.
func (d decoder) mapping(m *yaml.Node, path string, handle func(key string, k, v *yaml.Node) bool) {
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

func (d decoder) functions(v *yaml.Node, c *Config, info *fileInfo) bool {
	return d.list(v, "functions", &info.entries, func(path string, i int, e, m *yaml.Node) {
		f := Function{Line: valueLine(e)}
		fi := newEntryInfo(i)
		d.mapping(m, path, func(key string, k, v *yaml.Node) bool {
			kpath := path + "." + key
			ok := true
			switch key {
			case "name":
				f.Name, ok = d.str(kpath, v)
			case "qualifier":
				f.Qualifier, ok = d.nonEmpty(kpath, v, "omit the key for the unqualified function")
			case "execution_name":
				f.ExecutionName, ok = d.nonEmpty(kpath, v, "omit the key to export all executions")
			case "statuses":
				f.Statuses, ok = d.strList(kpath, v, fi.listInfo(key))
			case "window":
				f.Window, ok = d.duration(kpath, v)
			case "region":
				f.Region, ok = d.nonEmpty(kpath, v, "omit the key to use the global region")
			case "role_arn":
				f.RoleARN, ok = d.nonEmpty(kpath, v, "omit the key to use the default credentials")
			case "external_id":
				f.ExternalID, ok = d.nonEmpty(kpath, v, "omit the key when the role requires none")
			default:
				return false
			}
			fi.record(key, v, ok)
			return true
		})
		c.Functions = append(c.Functions, f)
		info.funcs = append(info.funcs, fi)
	})
}

func (d decoder) discovery(v *yaml.Node, c *Config, info *fileInfo) bool {
	return d.list(v, "discovery", &info.discEntries, func(path string, i int, e, m *yaml.Node) {
		ds := Discovery{Line: valueLine(e)}
		di := newEntryInfo(i)
		d.mapping(m, path, func(key string, k, v *yaml.Node) bool {
			kpath := path + "." + key
			ok := true
			switch key {
			case "regions":
				ds.Regions, ok = d.strList(kpath, v, di.listInfo(key))
			case "role_arn":
				ds.RoleARN, ok = d.nonEmpty(kpath, v, "omit the key to use the default credentials")
			case "external_id":
				ds.ExternalID, ok = d.nonEmpty(kpath, v, "omit the key when the role requires none")
			case "tags":
				ds.Tags, ok = d.tags(kpath, v, di)
			case "name_pattern":
				ds.NamePattern, ok = d.nonEmpty(kpath, v, "omit the key to match every function name")
			case "refresh":
				ds.Refresh, ok = d.duration(kpath, v)
			case "qualifier": // "" = unqualified, as when the key is omitted
				ds.Qualifier, ok = d.str(kpath, v)
			case "statuses":
				ds.Statuses, ok = d.strList(kpath, v, di.listInfo(key))
			case "window":
				ds.Window, ok = d.duration(kpath, v)
			default:
				return false
			}
			di.record(key, v, ok)
			return true
		})
		c.Discovery = append(c.Discovery, ds)
		info.discs = append(info.discs, di)
	})
}

// list walks a list of mappings under the top-level key name, calling entry
// for each mapping; *count is set to the number of entries. A null value is
// accepted (an empty list); validate reports it if needed.
func (d decoder) list(v *yaml.Node, name string, count *int, entry func(path string, i int, e, m *yaml.Node)) bool {
	n := resolve(v)
	if isNull(n) {
		return true // reported by validate as "at least one function or discovery entry is required"
	}
	if n.Kind != yaml.SequenceNode {
		d.probs.add(valueLine(v), name, "expected a list, got %s", describe(n))
		return false
	}
	*count = len(n.Content)
	for i, e := range n.Content {
		path := fmt.Sprintf("%s[%d]", name, i)
		m := resolve(e)
		if m.Kind != yaml.MappingNode {
			d.probs.add(valueLine(e), path, "expected a mapping, got %s", describe(m))
			continue
		}
		entry(path, i, e, m)
	}
	return true
}

func newEntryInfo(index int) *entryInfo {
	return &entryInfo{index: index, fields: map[string]src{}, bad: map[string]bool{}}
}

// record notes whether key decoded.
func (ei *entryInfo) record(key string, v *yaml.Node, ok bool) {
	if ok {
		ei.fields[key] = src{line: valueLine(v), raw: resolve(v).Value}
	} else {
		ei.bad[key] = true
	}
}

// listInfo returns a fresh listInfo for key.
func (ei *entryInfo) listInfo(key string) *listInfo {
	if ei.lists == nil {
		ei.lists = map[string]*listInfo{}
	}
	li := &listInfo{}
	ei.lists[key] = li
	return li
}

// strList decodes a list of strings, recording the line of every item in li.
// Items that are not strings are reported, recorded in li.bad and kept as "".
func (d decoder) strList(path string, v *yaml.Node, li *listInfo) ([]string, bool) {
	n := resolve(v)
	if isNull(n) {
		d.probs.add(valueLine(v), path, "missing value")
		return nil, false
	}
	if n.Kind != yaml.SequenceNode {
		d.probs.add(valueLine(v), path, "expected a list, got %s", describe(n))
		return nil, false
	}
	out := make([]string, 0, len(n.Content))
	li.bad = map[int]bool{}
	li.lines = make([]int, 0, len(n.Content))
	for i, e := range n.Content {
		var s string
		if r := resolve(e); r.Kind == yaml.ScalarNode && !isNull(r) {
			s = r.Value // fast path: no path string needed
		} else {
			d.str(fmt.Sprintf("%s[%d]", path, i), e) // reports the problem
			li.bad[i] = true
		}
		out = append(out, s)
		li.lines = append(li.lines, valueLine(e))
	}
	return out, true
}

// durationList decodes a list of duration strings.
func (d decoder) durationList(path string, v *yaml.Node) ([]time.Duration, bool) {
	n := resolve(v)
	if isNull(n) {
		d.probs.add(valueLine(v), path, "missing value")
		return nil, false
	}
	if n.Kind != yaml.SequenceNode {
		d.probs.add(valueLine(v), path, "expected a list, got %s", describe(n))
		return nil, false
	}
	out := make([]time.Duration, 0, len(n.Content))
	ok := true
	for i, e := range n.Content {
		dur, good := d.duration(fmt.Sprintf("%s[%d]", path, i), e)
		ok = ok && good
		out = append(out, dur)
	}
	return out, ok
}

// tags decodes a mapping of strings to strings, recording the line of every
// key in ei.tagLines. Values that are not strings are reported and kept as "".
func (d decoder) tags(path string, v *yaml.Node, ei *entryInfo) (map[string]string, bool) {
	n := resolve(v)
	switch {
	case isNull(n):
		d.probs.add(valueLine(v), path, "missing value")
		return nil, false
	case n.Kind != yaml.MappingNode:
		d.probs.add(valueLine(v), path, "expected a mapping, got %s", describe(n))
		return nil, false
	}
	out := map[string]string{}
	ei.tagLines = map[string]int{}
	d.mapping(n, path, func(key string, k, v *yaml.Node) bool {
		s, _ := d.str(path+"."+key, v)
		out[key] = s
		ei.tagLines[key] = k.Line
		return true
	})
	return out, len(out) > 0 || len(n.Content) == 0 // all keys bad: reported already
}

// nonEmpty decodes a string that must not be empty; hint says what to do
// instead of writing an empty string.
func (d decoder) nonEmpty(path string, v *yaml.Node, hint string) (string, bool) {
	s, ok := d.str(path, v)
	if ok && s == "" {
		d.probs.add(valueLine(v), path, "must not be empty (%s)", hint)
		return "", false
	}
	return s, ok
}

// str decodes any non-null scalar as its text.
func (d decoder) str(path string, v *yaml.Node) (string, bool) {
	n := resolve(v)
	switch {
	case isNull(n):
		d.probs.add(valueLine(v), path, "missing value")
		return "", false
	case n.Kind != yaml.ScalarNode:
		d.probs.add(valueLine(v), path, "expected a string, got %s", describe(n))
		return "", false
	}
	return n.Value, true
}

// duration decodes a Prometheus-style duration string ("30s", "1h30m", "1d").
// A leading "-" is accepted so that validation can report the sign clearly.
func (d decoder) duration(path string, v *yaml.Node) (time.Duration, bool) {
	n := resolve(v)
	switch {
	case isNull(n):
		d.probs.add(valueLine(v), path, "missing value")
		return 0, false
	case n.Kind != yaml.ScalarNode:
		d.probs.add(valueLine(v), path, "expected a duration string, got %s", describe(n))
		return 0, false
	}
	if tag := n.ShortTag(); tag == "!!int" || tag == "!!float" {
		d.probs.add(valueLine(v), path, "invalid duration %q: not a valid duration string (a number needs a unit, e.g. \"%ss\")", n.Value, n.Value)
		return 0, false
	}
	dur, err := parseDuration(n.Value)
	if err != nil {
		d.probs.add(valueLine(v), path, "invalid duration %q: %s", n.Value, err)
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

func (d decoder) integer(path string, v *yaml.Node) (int, bool) {
	n := resolve(v)
	switch {
	case isNull(n):
		d.probs.add(valueLine(v), path, "missing value")
		return 0, false
	case n.Kind != yaml.ScalarNode:
		d.probs.add(valueLine(v), path, "expected an integer, got %s", describe(n))
		return 0, false
	}
	i, err := strconv.ParseInt(n.Value, 10, 64)
	if err != nil && n.ShortTag() == "!!int" {
		err = n.Decode(&i) // YAML forms such as 0x10 or 0o17
	}
	if err != nil || i < math.MinInt || i > math.MaxInt {
		d.probs.add(valueLine(v), path, "invalid integer %q", n.Value)
		return 0, false
	}
	return int(i), true
}

func (d decoder) float(path string, v *yaml.Node) (float64, bool) {
	n := resolve(v)
	switch {
	case isNull(n):
		d.probs.add(valueLine(v), path, "missing value")
		return 0, false
	case n.Kind != yaml.ScalarNode:
		d.probs.add(valueLine(v), path, "expected a number, got %s", describe(n))
		return 0, false
	}
	f, err := strconv.ParseFloat(n.Value, 64)
	if err != nil {
		if tag := n.ShortTag(); tag == "!!int" || tag == "!!float" {
			err = n.Decode(&f) // YAML forms such as .inf or 0x10
		}
	}
	if err != nil {
		d.probs.add(valueLine(v), path, "invalid number %q", n.Value)
		return 0, false
	}
	return f, true
}

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

// valueLine is the line where a value is written (the alias, not its anchor).
func valueLine(n *yaml.Node) int {
	if n == nil {
		return 0
	}
	return n.Line
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
