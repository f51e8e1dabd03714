package config

import "testing"

// TestSyntaxErrors covers YAML syntax errors: a tab in the indentation is
// named on its own line, parser errors are numbered from 1, and the key
// path is found by the indentation of the lines before.
func TestSyntaxErrors(t *testing.T) {
	const tab = "a tab character indents this line; YAML indents with spaces only"
	tests := []struct {
		name string
		in   string
		want string
	}{
		// A tab where YAML expects indentation: yaml.v3 says "found
		// character that cannot start any token" or "found a tab character
		// that violates indentation", sometimes on the line before.
		{"tab before a list item", "functions:\n  - name: a\n  - name: b\n    statuses:\n\t- FAILED\n",
			"line 5: functions[1].statuses: " + tab},
		{"tab before a key of an entry", "functions:\n  - name: a\n\twindow: 1h\n",
			"line 3: functions[0]: " + tab}, // yaml.v3 says line 2
		{"tab after spaces", "functions:\n  - name: a\n  \t- b\n",
			"line 3: functions[0]: " + tab},
		{"tab at the top level", "interval: 1m\n\tregion: x\n",
			"line 2: " + tab},
		{"tab on the first line", "\tinterval: 1m\n",
			"line 1: " + tab}, // yaml.v3 gives no line
		{"tab among list items", "functions:\n  - name: a\n    statuses:\n      - FAILED\n\t  - RUNNING\n",
			"line 5: functions[0].statuses: " + tab},
		{"tab in tags after a flow list over two lines", "discovery:\n  - regions: [us-east-1,\n      eu-west-1]\n    tags:\n      team: a\n\t  x: y\n",
			"line 6: discovery[0].tags: " + tab},
		{"tab after a flow mapping", "functions:\n  - name: a\n    tags: {a: b}\n\tx: 1\n",
			"line 4: functions[0]: " + tab},
		{"tab in a block scalar", "functions:\n  - name: a\n    name_pattern: |\n      x\n\t\n",
			"line 5: functions[0].name_pattern: " + tab},
		{"tab after a block scalar", "discovery:\n  - regions: [us-east-1]\n    name_pattern: >\n      ^a\n    tags:\n\t  team: a\n",
			"line 6: discovery[0].tags: " + tab},
		{"tab with CRLF line ends", "functions:\r\n  - name: a\r\n\tb: c\r\n",
			"line 3: functions[0]: " + tab},
		{"tab after comments and blank lines", "# c\n\nfunctions:\n  # c\n  - name: a # c\n\n    statuses:\n\t- FAILED\n",
			"line 8: functions[0].statuses: " + tab},
		{"tab after a quoted key", "functions:\n  - \"name\": a\n    'statuses':\n\t- FAILED\n",
			"line 4: functions[0].statuses: " + tab},

		// Other syntax errors keep yaml.v3's words.
		{"second colon", "functions:\n  - name: a\n    window: 1h: 2h\n",
			"line 3: functions[0].window: mapping values are not allowed in this context"},
		{"colon on a continued scalar", "region: b\n c: d\n",
			"line 2: region: mapping values are not allowed in this context"},
		{"unclosed flow mapping", "functions:\n  - name: a\n    tags: {a: b\n    window: 1h\n",
			"line 3: functions[0].tags: did not find expected ',' or '}'"},
		{"unclosed quote", "functions:\n  - name: \"a\n",
			"line 2: functions[0].name: found unexpected end of stream"},
		{"dedented key", "functions:\n  - name: a\n    window: 1h\n   region: x\n",
			"line 2: functions[0]: did not find expected '-' indicator"},
		{"character that cannot start a token", "functions:\n- name: a\n  x: @b\n",
			"line 3: functions[0].x: found character that cannot start any token"},
		{"control character", "region: x\x01\n",
			"line 1: control characters are not allowed"},
		{"invalid UTF-8", "region: x\nwindow: \xff\n",
			"line 2: invalid leading UTF-8 octet"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse([]byte(tt.in))
			if c != nil || err == nil {
				t.Fatalf("Parse succeeded")
			}
			if err.Error() != tt.want {
				t.Errorf("error\n got: %s\nwant: %s", err, tt.want)
			}
		})
	}
}
