package detect

import (
	"strings"
	"testing"

	"github.com/vigil-detect/vigil/rules"
)

// TestSigmaNotes has one case per point of ../shared/SIGMA-NOTES.md (values, modifiers,
// conditions and sigma-go's departures), each named after the note it checks. Correlation
// points belong to the correlation engine and are tested there.
func TestSigmaNotes(t *testing.T) {
	runCases(t, []matchCase{
		// Values and modifiers.
		{"matching is case-insensitive unless cased", sel("F: 'PowerShell'"),
			[]string{`{"F":"POWERSHELL"}`}, nil},
		{"cased is case-sensitive", sel("F|cased: 'PowerShell'"),
			[]string{`{"F":"PowerShell"}`}, []string{`{"F":"POWERSHELL"}`}},
		{"re is case-sensitive unless re|i", sel("F|re: 'Power'"),
			[]string{`{"F":"xPowerx"}`}, []string{`{"F":"xpowerx"}`}},
		{"re|i", sel("F|re|i: 'Power'"), []string{`{"F":"xPOWERx"}`}, nil},
		{"re flags m and s", sel("F|re|m|s: '^b.c$'"), []string{`{"F":"a\nb\nc\nd"}`}, []string{`{"F":"ab\nc"}`}},
		{"re is unanchored (find, not full match)", sel("F|re: 'b'"), []string{`{"F":"abc"}`}, nil},
		{"* in a plain value is any run", sel("F: 'a*c'"), []string{`{"F":"abbbc"}`, `{"F":"ac"}`}, []string{`{"F":"abd"}`}},
		{"? in a plain value is one character", sel("F: 'a?c'"), []string{`{"F":"abc"}`, `{"F":"aéc"}`}, []string{`{"F":"ac"}`, `{"F":"abbc"}`}},
		{"wildcards inside contains", sel("F|contains: 'net*user'"), []string{`{"F":"x net1 localuser y"}`}, []string{`{"F":"user net"}`}},
		{"wildcards inside startswith", sel("F|startswith: 'a?c'"), []string{`{"F":"abcd"}`}, []string{`{"F":"xabc"}`}},
		{"wildcards inside endswith", sel("F|endswith: 'a*c'"), []string{`{"F":"xaxxc"}`}, []string{`{"F":"acx"}`}},
		{`\* is a literal star`, sel(`F: 'a\*c'`), []string{`{"F":"a*c"}`}, []string{`{"F":"abc"}`}},
		{`\? is a literal question mark`, sel(`F: 'a\?c'`), []string{`{"F":"a?c"}`}, []string{`{"F":"abc"}`}},
		{`\\ is one backslash`, sel(`F: 'a\\b'`), []string{`{"F":"a\\b"}`}, []string{`{"F":"a\\\\b"}`}},
		{`a lone \ not before a wildcard is a backslash`, sel(`F: 'C:\Windows\x'`), []string{`{"F":"c:\\windows\\x"}`}, nil},
		{`\\* is a backslash followed by a wildcard`, sel(`F: 'a\\*'`), []string{`{"F":"a\\"}`, `{"F":"a\\bc"}`}, []string{`{"F":"ab"}`}},
		{`\\\* is a backslash and a literal star`, sel(`F: 'a\\\*'`), []string{`{"F":"a\\*"}`}, []string{`{"F":"a\\b"}`}},
		{`\\\\ is two backslashes`, sel(`F: 'a\\\\b'`), []string{`{"F":"a\\\\b"}`}, []string{`{"F":"a\\b"}`}},
		{"%name% without expand is literal text", sel(`F|endswith: '%AppData%\evil.exe'`), []string{`{"F":"%APPDATA%\\evil.exe"}`}, []string{`{"F":"C:\\Users\\x\\AppData\\evil.exe"}`}},
		{"windash swaps -, /, en dash, em dash, horizontal bar", sel("F|windash: '-x'"),
			[]string{`{"F":"-x"}`, `{"F":"/x"}`, `{"F":"–x"}`, `{"F":"—x"}`, `{"F":"―x"}`}, []string{`{"F":"x"}`}},
		{"windash chains with contains in any order", sel("F|contains|windash: ' -x '"), []string{`{"F":"a /x b"}`}, nil},
		{"base64offset produces three variants", sel("F|base64offset|contains: 'foobar'"),
			[]string{`{"F":"Zm9vYmFy"}`, `{"F":"xZvb2Jhcx"}`, `{"F":"xmb29iYXx"}`}, nil},
		{"utf16le transforms before base64", sel("F|utf16le|base64: 'a'"), []string{`{"F":"YQA="}`}, nil},
		{"wide transforms before base64offset", sel("F|wide|base64offset|contains: 'a'"), []string{`{"F":"YQA="}`}, nil},
		{"utf16 (BOM) transforms before base64", sel("F|utf16|base64: 'a'"), []string{`{"F":"//5hAA=="}`}, nil},
		{"utf16be transforms before base64", sel("F|utf16be|base64: 'a'"), []string{`{"F":"AGE="}`}, nil},
		{"all turns a list's OR into AND", sel("F|contains|all: [a, b]"), []string{`{"F":"ba"}`}, []string{`{"F":"aa"}`}},
		{"exists: true checks presence only", sel("F|exists: true"), []string{`{"F":null}`, `{"F":""}`}, []string{`{}`}},
		{"exists: false", sel("F|exists: false"), []string{`{}`}, []string{`{"F":null}`}},
		{"neq negates", sel("F|neq: a"), []string{`{"F":"b"}`}, []string{`{"F":"a"}`, `{}`}},
		{"fieldref compares with another field of the same event", sel("F|fieldref: G"), []string{`{"F":"v","G":"V"}`}, []string{`{"F":"v","G":"w"}`}},
		{"time modifiers extract numbers from a date", sel("T|month: 2"), []string{`{"T":"2024-02-10T10:00:00Z"}`}, []string{`{"T":"2024-03-10T10:00:00Z"}`}},
		{"null matches an absent field", sel("F: null"), []string{`{}`, `{"G":1}`}, []string{`{"F":"x"}`}},
		{"null matches a null field", sel("F: null"), []string{`{"F":null}`}, []string{`{"F":""}`, `{"F":0}`, `{"F":false}`}},
		{"keyword lists are full-text OR searches", "  kw: [mimikatz, 'sekurlsa::']\n  condition: kw",
			[]string{`{"a":{"b":["x","run Mimikatz"]}}`, `{"c":"sekurlsa::logonpasswords"}`}, []string{`{"a":"mimi"}`, `{"mimikatz":"key names are not values"}`}},
		{"a keyword map keyed '|all' is AND", "  kw:\n    '|all': [foo, bar]\n  condition: kw",
			[]string{`{"a":"foo","b":"xbarx"}`, `{"a":"foobar"}`}, []string{`{"a":"foo"}`}},
		{"keyword wildcards", "  kw: ['evil*.exe']\n  condition: kw", []string{`{"a":"run evil123.exe now"}`}, []string{`{"a":"evil"}`}},
		{"keyword with modifiers", "  kw:\n    '|re': '^ab+c$'\n  condition: kw", []string{`{"a":"x","b":"abbc"}`}, []string{`{"a":"xabbc"}`}},
		{"keyword numbers", "  kw: [4624]\n  condition: kw", []string{`{"EventID":4624}`, `{"m":"id 4624 seen"}`}, []string{`{"EventID":4625}`}},
		{"lists of maps are ORed, each map ANDed", "  sel:\n    - {A: x, B: y}\n    - {C: z}\n  condition: sel",
			[]string{`{"A":"x","B":"y"}`, `{"C":"z"}`}, []string{`{"A":"x","C":"y"}`}},
		{"boolean values", sel("F: true"), []string{`{"F":true}`, `{"F":"true"}`, `{"F":"True"}`}, []string{`{"F":false}`, `{"F":1}`}},
		{"large integers are exact", sel("F: 18446744073709551615"), []string{`{"F":18446744073709551615}`, `{"F":"18446744073709551615"}`}, []string{`{"F":18446744073709551614}`, `{"F":18446744073709551616}`}},
		{"numeric strings in the rule are strings", sel("F: '0010'"), []string{`{"F":"0010"}`}, []string{`{"F":10}`}},
		{"numbers match numeric strings in events", sel("EventID: 4688"), []string{`{"EventID":"4688"}`}, []string{`{"EventID":"04688"}`}},
		{"hexadecimal rule numbers match as written and as numbers", sel("Status: 0xC000006D"), []string{`{"Status":"0xc000006d"}`, `{"Status":3221225581}`}, []string{`{"Status":"0xC000006E"}`}},
		{"floats", sel("F: 1.5"), []string{`{"F":1.5}`, `{"F":15e-1}`}, []string{`{"F":1.50001}`}},
		{"nested JSON objects by dotted field names", sel("process.parent.name: cmd.exe"),
			[]string{`{"process":{"parent":{"name":"CMD.exe"}}}`, `{"process.parent.name":"cmd.exe"}`}, []string{`{"process":{"name":"cmd.exe"}}`}},
		{"list-valued fields: any element matches", sel("Tags|contains: adm"), []string{`{"Tags":["user","admins"]}`}, []string{`{"Tags":["user"]}`}},
		{"lists of objects", sel("users.name: bob"), []string{`{"users":[{"name":"alice"},{"name":"bob"}]}`}, []string{`{"users":[{"name":"alice"}]}`}},
		{"a missing field never matches a value", sel("F|contains: ''"), nil, []string{`{}`}},
		{"a missing field never matches a negated value", sel("F|neq: x"), nil, []string{`{}`}},

		// sigma-go departures, fixed.
		{"sigma-go: a missing field matched contains 'nil'", sel("F|contains: nil"), []string{`{"F":"vanilla"}`}, []string{`{}`, `{"F":null}`}},
		{"sigma-go: 1000000 was not 1000000", sel("F: 1000000"), []string{`{"F":1000000}`, `{"F":1e6}`, `{"F":"1000000"}`}, []string{`{"F":"1e+06"}`}},
		{"sigma-go: list-valued fields were not element-wise", sel("F: b"), []string{`{"F":["a","b"]}`}, nil},
		{"sigma-go: modifiers after the comparison one", sel("F|contains|windash|all: [' -a', ' -b']"), []string{`{"F":"x /a /b"}`}, nil},
		{"sigma-go: them included _ identifiers", "  a: {A: x}\n  _b: {B: x}\n  condition: all of them", []string{`{"A":"x"}`}, nil},
		{"sigma-go: selection patterns with a digit before *", "  sel1a: {A: x}\n  condition: 1 of sel1*", []string{`{"A":"x"}`}, nil},
		{"sigma-go: a leading * in a pattern", "  main_filter: {A: x}\n  condition: 1 of *filter", []string{`{"A":"x"}`}, nil},
		{"sigma-go: upper-case NOT and AND", "  a: {A: x}\n  b: {B: x}\n  condition: a AND NOT b", []string{`{"A":"x"}`}, []string{`{"A":"x","B":"x"}`}},
		{"sigma-go: timeframe in the detection", "  a: {A: x}\n  timeframe: 5m\n  condition: a", []string{`{"A":"x"}`}, nil},
	})
}

// The remaining notes are about rejection: each must be an error with file and line, never a
// silently dead rule.
func TestSigmaNotesRejections(t *testing.T) {
	cases := []struct{ note, det, want string }{
		{"a one-item list with all is invalid", sel("F|all: [x]"), "at least two values"},
		{"null may not appear inside a value list", sel("F: [x, null]"), "null cannot appear in a list"},
		{"no any of", "  a: {A: x}\n  condition: any of a", "'any of' is not Sigma"},
		{"no N of for N>1", "  a: {A: x}\n  condition: 2 of a", "only '1 of' and 'all of'"},
		{"sigma-go: an undefined identifier was false", "  a: {A: x}\n  condition: a or b", `search identifier "b" is not defined`},
		{"sigma-go: a regex RE2 cannot compile never matched", sel("F|re: '(?<=a)b'"), "lookaround"},
		{"sigma-go: legacy | count() aggregators", "  a: {A: x}\n  condition: a | count() by B > 3", "write a correlation rule instead"},
	}
	for _, c := range cases {
		t.Run(c.note, func(t *testing.T) {
			set := &rules.Set{}
			set.Add("bad.yml", []byte(ruleYAML(c.det)))
			errs := set.Errors
			if len(errs) == 0 {
				errs = Compile(set.Rules, Options{NoRouting: true}).Errors
			}
			if len(errs) != 1 || !strings.Contains(errs[0].Error(), c.want) || !strings.HasPrefix(errs[0].Error(), "bad.yml:") {
				t.Fatalf("errors %v, want %q with a position", errs, c.want)
			}
		})
	}
}

// sigma-go read only the first YAML document of a file: every document must load.
func TestSigmaNotesMultiDocument(t *testing.T) {
	set := &rules.Set{}
	set.Add("multi.yml", []byte(ruleYAML("  a: {A: x}\n  condition: a")+"\n---\n"+
		strings.Replace(ruleYAML("  b: {B: x}\n  condition: b"), "0001", "0002", 1)))
	if len(set.Errors) != 0 || len(set.Rules) != 2 {
		t.Fatalf("rules %d, errors %v", len(set.Rules), set.Errors)
	}
	e := Compile(set.Rules, Options{NoRouting: true})
	m := e.NewMatcher()
	got, _ := m.Match([]byte(`{"A":"x","B":"x"}`))
	if len(got) != 2 {
		t.Fatalf("matched %v", got)
	}
}
