package config

import (
	"bytes"
	"errors"
	"strconv"
	"strings"
	"unicode/utf8"
)

// tabMessage replaces yaml.v3's messages for a tab in the indentation.
const tabMessage = "a tab character indents this line; YAML indents with spaces only"

// syntaxError rewrites a YAML syntax error from yaml.v3 ("yaml: line N:
// problem") in this package's terms, "line N: path: problem": a tab in the
// indentation is named as such, on its own line; parser errors, which
// yaml.v3 numbers from 0, get the line counted from 1; and the path is the
// key path the line is found in, when an indentation-based walk of the
// lines up to it finds one (the document does not parse, so this is a best
// effort). An error it cannot place is returned as it is.
func syntaxError(b []byte, err error) error {
	msg, ok := strings.CutPrefix(err.Error(), "yaml: ")
	if !ok {
		return err
	}
	line := 0
	if rest, ok := strings.CutPrefix(msg, "line "); ok {
		if n, after, ok := strings.Cut(rest, ": "); ok {
			if v, err := strconv.Atoi(n); err == nil && v > 0 {
				line, msg = v, after
			}
		}
	}
	lines := splitLines(b)
	switch {
	case isTabError(msg):
		from := max(line, 1)
		if msg == "found character that cannot start any token" {
			lines = lines[:min(from, len(lines))] // the exact line
		}
		for n := from; n <= len(lines); n++ {
			if indentHasTab(lines[n-1]) {
				return located(n, keyPath(lines[:n-1], false), tabMessage)
			}
		}
	case isParserError(msg):
		line++ // yaml.v3 reports a parser error's 0-based line, and none for line 0
	case isReaderError(msg) && line == 0:
		line = badCharLine(b)
	}
	if line == 0 || line > len(lines) {
		return err
	}
	// A scanner error points at the problem itself, which may be in the
	// value of a key on that line; a parser error at the construct it was
	// parsing.
	return located(line, keyPath(lines[:line], !isParserError(msg) && !isReaderError(msg)), msg)
}

func located(line int, path, msg string) error {
	if path != "" {
		msg = path + ": " + msg
	}
	return errors.New("line " + strconv.Itoa(line) + ": " + msg)
}

func isTabError(msg string) bool {
	return msg == "found character that cannot start any token" ||
		msg == "found a tab character that violates indentation" ||
		msg == "found a tab character where an indentation space is expected"
}

// isParserError reports whether msg is one of the problems of yaml.v3's
// parser (parserc.go) rather than its scanner.
func isParserError(msg string) bool {
	return strings.HasPrefix(msg, "did not find expected ") ||
		strings.HasPrefix(msg, "found duplicate %") ||
		msg == "found incompatible YAML document" ||
		msg == "found undefined tag handle"
}

// isReaderError reports whether msg is one of the problems of yaml.v3's
// reader (readerc.go), which it reports without a position.
func isReaderError(msg string) bool {
	return msg == "control characters are not allowed" || strings.HasPrefix(msg, "invalid ") && strings.Contains(msg, "UTF-8") ||
		strings.HasPrefix(msg, "incomplete UTF-8")
}

// badCharLine is the line of the first character that yaml.v3's reader
// refuses (invalid UTF-8 or a control character), 0 if none is found or
// the input is UTF-16.
func badCharLine(b []byte) int {
	if bytes.HasPrefix(b, []byte{0xff, 0xfe}) || bytes.HasPrefix(b, []byte{0xfe, 0xff}) {
		return 0
	}
	for i := 0; i < len(b); {
		r, size := utf8.DecodeRune(b[i:])
		ok := r == '\t' || r == '\n' || r == '\r' || r >= 0x20 && r <= 0x7e || r == 0x85 ||
			r >= 0xa0 && r <= 0xd7ff || r >= 0xe000 && r <= 0xfffd || r >= 0x10000 && r <= 0x10ffff
		if !ok || r == utf8.RuneError && size == 1 {
			return 1 + bytes.Count(b[:i], []byte("\n"))
		}
		i += size
	}
	return 0
}

// splitLines splits b at "\n", dropping a "\r" before it and a leading
// byte order mark. (YAML also breaks lines at a lone "\r" and at U+0085,
// U+2028 and U+2029; a file using those is numbered differently.)
func splitLines(b []byte) []string {
	s := strings.TrimPrefix(string(b), "\ufeff")
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = strings.TrimSuffix(l, "\r")
	}
	return lines
}

// indentHasTab reports whether the blanks that start line hold a tab.
func indentHasTab(line string) bool {
	for _, c := range []byte(line) {
		switch c {
		case '\t':
			return true
		case ' ':
		default:
			return false
		}
	}
	return false
}

// frame is a mapping key or a list item open at some column.
type frame struct {
	col   int
	key   string // "" for a list item
	item  int    // index of a list item
	open  bool   // its value may go on on the next lines (empty, a block scalar, an unclosed flow or quoted value)
	line  int    // 1-based line it is on
	isKey bool
}

// walker follows the block structure of YAML lines by their indentation.
type walker struct {
	stack   []frame
	flow    int  // depth of an unclosed flow collection
	quote   byte // of an unclosed quoted scalar, or 0
	block   int  // column a block scalar's lines are indented past, -1 if none
	pending int  // index in stack of the frame whose block, flow or quoted value goes on, -1 if none
}

// keyPath walks lines and returns the key path open at their end, for
// example "functions[1].statuses". A key or item with a value on its line
// (a scalar, or a flow collection closed on it) is not open, and is left
// out unless keepLast is set and it is on the last line.
func keyPath(lines []string, keepLast bool) string {
	w := walker{block: -1, pending: -1}
	for i, l := range lines {
		w.line(i+1, l)
	}
	st := w.stack
	for len(st) > 0 {
		top := st[len(st)-1]
		if top.open || keepLast && top.line == len(lines) {
			break
		}
		st = st[:len(st)-1]
	}
	path := ""
	for _, f := range st {
		if f.isKey {
			path = join(path, f.key)
		} else {
			path = index(path, f.item)
		}
	}
	return path
}

func (w *walker) line(n int, l string) {
	col := len(l) - len(strings.TrimLeft(l, " "))
	rest := l[col:]
	blank := rest == "" || strings.TrimLeft(rest, " \t") == ""
	if w.block >= 0 {
		if blank || col > w.block {
			return
		}
		w.block = -1
		w.close()
	}
	if w.flow > 0 || w.quote != 0 {
		w.scan(l)
		if w.flow == 0 && w.quote == 0 {
			w.close()
		}
		return
	}
	if blank || rest[0] == '#' || rest[0] == '\t' || rest[0] == '%' {
		return
	}
	if k := len(w.stack) - 1; k >= 0 && !w.stack[k].open && col > w.stack[k].col {
		w.stack[k].line = n // the scalar value of the key or item goes on
		return
	}
	if col == 0 && (rest == "---" || strings.HasPrefix(rest, "--- ") || rest == "...") {
		w.stack = nil
		return
	}
	for rest == "-" || strings.HasPrefix(rest, "- ") || strings.HasPrefix(rest, "-\t") {
		for len(w.stack) > 0 && w.stack[len(w.stack)-1].col > col {
			w.stack = w.stack[:len(w.stack)-1]
		}
		item := 0
		if k := len(w.stack) - 1; k >= 0 && !w.stack[k].isKey && w.stack[k].col == col {
			item = w.stack[k].item + 1
			w.stack = w.stack[:k]
		}
		w.stack = append(w.stack, frame{col: col, item: item, open: true, line: n})
		after := strings.TrimLeft(rest[1:], " \t")
		col += len(rest) - len(after)
		rest = after
		if rest == "" || rest[0] == '#' {
			return
		}
	}
	if key, value, ok := splitKey(rest); ok {
		for len(w.stack) > 0 && w.stack[len(w.stack)-1].col >= col {
			w.stack = w.stack[:len(w.stack)-1]
		}
		w.stack = append(w.stack, frame{col: col, key: key, isKey: true, line: n})
		rest = value
	} else if len(w.stack) == 0 || w.stack[len(w.stack)-1].line != n {
		return // a scalar continued, or something else this walk does not follow
	}
	w.value(col, rest)
}

// value classifies the value on the line of the last frame, at col.
func (w *walker) value(col int, v string) {
	top := &w.stack[len(w.stack)-1]
	top.open = false
	for v != "" && (v[0] == '&' || v[0] == '!') { // anchor or tag
		_, after, _ := strings.Cut(v, " ")
		v = strings.TrimLeft(after, " \t")
	}
	switch {
	case v == "" || v[0] == '#':
		top.open = true
	case v[0] == '|' || v[0] == '>':
		w.block = col
		top.open = true
		w.pending = len(w.stack) - 1
	case v[0] == '[' || v[0] == '{' || v[0] == '"' || v[0] == '\'':
		w.scan(v)
		if w.flow > 0 || w.quote != 0 {
			top.open = true
			w.pending = len(w.stack) - 1
		}
	}
}

// close marks the frame whose block scalar, flow collection or quoted
// value just ended as no longer open.
func (w *walker) close() {
	if w.pending >= 0 && w.pending < len(w.stack) {
		w.stack[w.pending].open = false
	}
	w.pending = -1
}

// scan follows flow brackets and quotes through s.
func (w *walker) scan(s string) {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case w.quote == '"':
			switch c {
			case '\\':
				i++
			case '"':
				w.quote = 0
			}
		case w.quote == '\'':
			if c == '\'' {
				if i+1 < len(s) && s[i+1] == '\'' {
					i++
				} else {
					w.quote = 0
				}
			}
		case c == '#' && (i == 0 || s[i-1] == ' ' || s[i-1] == '\t'):
			return
		case (c == '"' || c == '\'') && (i == 0 || strings.IndexByte(" \t[{,:", s[i-1]) >= 0):
			w.quote = c
		case c == '[' || c == '{':
			w.flow++
		case (c == ']' || c == '}') && w.flow > 0:
			w.flow--
		}
	}
}

// splitKey splits "key: value" (a plain, single- or double-quoted key) into
// the key and the value after the colon, trimmed.
func splitKey(s string) (key, value string, ok bool) {
	end := -1
	switch s[0] {
	case '"', '\'':
		q := s[0]
		for i := 1; i < len(s); i++ {
			if q == '"' && s[i] == '\\' {
				i++
				continue
			}
			if s[i] == q {
				if q == '\'' && i+1 < len(s) && s[i+1] == '\'' {
					i++
					continue
				}
				end = i + 1
				break
			}
		}
		if end < 0 {
			return "", "", false
		}
		key = s[1 : end-1]
		if q == '"' {
			if u, err := strconv.Unquote(s[:end]); err == nil {
				key = u
			}
		} else {
			key = strings.ReplaceAll(key, "''", "'")
		}
		rest := strings.TrimLeft(s[end:], " \t")
		if rest == "" || rest[0] != ':' || len(rest) > 1 && rest[1] != ' ' && rest[1] != '\t' {
			return "", "", false
		}
		return key, strings.TrimLeft(rest[1:], " \t"), true
	case '[', '{', '#', '&', '*', '!', '|', '>', '%', '@', '`', '?':
		return "", "", false
	}
	for i := 0; i < len(s); i++ {
		if s[i] == ':' && (i+1 == len(s) || s[i+1] == ' ' || s[i+1] == '\t') {
			return strings.TrimRight(s[:i], " \t"), strings.TrimLeft(s[i+1:], " \t"), i > 0
		}
		if s[i] == '#' && i > 0 && (s[i-1] == ' ' || s[i-1] == '\t') {
			break
		}
	}
	return "", "", false
}
