package detect

import (
	"strings"
	"testing"

	"github.com/vigil-detect/vigil/internal/race"
	"github.com/vigil-detect/vigil/rules"
)

// ruleYAML wraps a detection section into a minimal rule without a logsource (so it runs on
// every event).
func ruleYAML(detection string) string {
	return "title: t\nid: 00000000-0000-0000-0000-000000000001\nlogsource: {product: test}\ndetection:\n" + detection
}

func compileOne(t *testing.T, src string, opts Options) *Engine {
	t.Helper()
	set := &rules.Set{}
	set.Add("test.yml", []byte(src))
	if len(set.Errors) > 0 {
		t.Fatalf("parse: %v", set.Errors)
	}
	opts.NoRouting = true
	e := Compile(set.Rules, opts)
	if len(e.Errors) > 0 {
		t.Fatalf("compile: %v", e.Errors)
	}
	return e
}

func matches(t *testing.T, e *Engine, ev string) bool {
	t.Helper()
	m := e.NewMatcher()
	got, err := m.Match([]byte(ev))
	if err != nil {
		t.Fatalf("event %s: %v", ev, err)
	}
	// The index must never change the outcome.
	return len(got) > 0
}

type matchCase struct {
	name      string
	detection string
	yes, no   []string
}

func runCases(t *testing.T, cases []matchCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for _, reference := range []bool{false, true} {
				e := compileOne(t, ruleYAML(c.detection), Options{Reference: reference})
				for _, ev := range c.yes {
					if !matches(t, e, ev) {
						t.Errorf("reference=%v: should match %s", reference, ev)
					}
				}
				for _, ev := range c.no {
					if matches(t, e, ev) {
						t.Errorf("reference=%v: should not match %s", reference, ev)
					}
				}
			}
		})
	}
}

func TestCoreMatching(t *testing.T) {
	runCases(t, []matchCase{
		{"equality is case-insensitive", "  sel: {Image: 'C:\\Windows\\cmd.exe'}\n  condition: sel",
			[]string{`{"Image":"c:\\windows\\CMD.EXE"}`}, []string{`{"Image":"c:\\windows\\cmd.exe2"}`, `{}`, `{"Image":null}`}},
		{"list is OR", "  sel: {User: [alice, bob]}\n  condition: sel",
			[]string{`{"User":"Bob"}`}, []string{`{"User":"carol"}`}},
		{"map is AND", "  sel: {A: x, B: y}\n  condition: sel",
			[]string{`{"A":"x","B":"y"}`}, []string{`{"A":"x"}`, `{"A":"x","B":"z"}`}},
		{"list of maps is OR", "  sel:\n    - {A: x}\n    - {B: y}\n  condition: sel",
			[]string{`{"A":"x"}`, `{"B":"y"}`}, []string{`{"A":"y","B":"x"}`}},
		{"contains", "  sel: {CommandLine|contains: ' -enc '}\n  condition: sel",
			[]string{`{"CommandLine":"powershell -ENC abc"}`}, []string{`{"CommandLine":"powershell -encoded"}`}},
		{"startswith endswith", "  a: {F|startswith: abc}\n  b: {F|endswith: xyz}\n  condition: a and b",
			[]string{`{"F":"ABC--XYZ"}`}, []string{`{"F":"xabc-xyz"}`, `{"F":"abc-xyzx"}`}},
		{"contains all", "  sel: {C|contains|all: [' -a', ' -b']}\n  condition: sel",
			[]string{`{"C":"x -b -a"}`}, []string{`{"C":"x -a"}`}},
		{"wildcards", "  sel: {F: 'a*b?c'}\n  condition: sel",
			[]string{`{"F":"aXXbYc"}`, `{"F":"abéc"}`, `{"F":"abbc"}`}, []string{`{"F":"abc"}`, `{"F":"aXbYcZ"}`}},
		{"wildcard inside contains", "  sel: {F|contains: 'net*user'}\n  condition: sel",
			[]string{`{"F":"c:\\net.exe localgroup user x"}`}, []string{`{"F":"user net"}`}},
		{"escaped wildcard", "  sel: {F: 'a\\*b'}\n  condition: sel",
			[]string{`{"F":"a*b"}`}, []string{`{"F":"axb"}`}},
		{"escaped backslash before wildcard", "  sel: {F: 'a\\\\*'}\n  condition: sel",
			[]string{`{"F":"a\\"}`, `{"F":"a\\xyz"}`}, []string{`{"F":"ab"}`}},
		{"lone backslash is literal", "  sel: {F: 'C:\\Win\\x'}\n  condition: sel",
			[]string{`{"F":"c:\\win\\x"}`}, nil},
		{"double backslash is one", "  sel: {F: 'a\\\\b'}\n  condition: sel",
			[]string{`{"F":"a\\b"}`}, []string{`{"F":"a\\\\b"}`}},
		{"regex case-sensitive", "  sel: {F|re: 'ab+c'}\n  condition: sel",
			[]string{`{"F":"xabbbc"}`}, []string{`{"F":"ABC"}`}},
		{"regex i flag", "  sel: {F|re|i: '^ab+c$'}\n  condition: sel",
			[]string{`{"F":"ABBC"}`}, []string{`{"F":"xABC"}`}},
		{"long line regex", "  sel: {F|re: '.{10,}'}\n  condition: sel",
			[]string{`{"F":"0123456789"}`, `{"F":"ab\n0123456789é"}`}, []string{`{"F":"012345678"}`, `{"F":"01234\n56789"}`}},
		{"numbers", "  sel: {EventID: 4688, Big: 1000000}\n  condition: sel",
			[]string{`{"EventID":4688,"Big":1000000}`, `{"EventID":"4688","Big":1e6}`}, []string{`{"EventID":46880,"Big":1000000}`}},
		{"large integer exact", "  sel: {N: 18446744073709551615}\n  condition: sel",
			[]string{`{"N":18446744073709551615}`}, []string{`{"N":18446744073709551614}`}},
		{"null", "  sel: {F: null}\n  condition: sel",
			[]string{`{}`, `{"F":null}`}, []string{`{"F":""}`, `{"F":"x"}`}},
		{"empty string", "  sel: {F: ''}\n  condition: sel",
			[]string{`{"F":""}`}, []string{`{}`, `{"F":null}`, `{"F":"x"}`}},
		{"missing field never matches contains nil", "  sel: {F|contains: nil}\n  condition: sel",
			[]string{`{"F":"vanilla"}`}, []string{`{}`, `{"F":null}`}},
		{"list-valued event field", "  sel: {Tags: admin}\n  condition: sel",
			[]string{`{"Tags":["user","admin"]}`}, []string{`{"Tags":["user"]}`}},
		{"nested field", "  sel: {process.name: cmd.exe}\n  condition: sel",
			[]string{`{"process":{"name":"cmd.exe"}}`, `{"process.name":"cmd.exe"}`}, []string{`{"process":{"title":"cmd.exe"}}`}},
		{"keywords", "  kw: [mimikatz, 'sekurlsa::']\n  condition: kw",
			[]string{`{"a":{"b":"run Mimikatz now"}}`, `{"x":"sekurlsa::logonpasswords"}`}, []string{`{"x":"mimi"}`}},
		{"keyword all map", "  kw:\n    '|all': [foo, bar]\n  condition: kw",
			[]string{`{"a":"foo","b":"xbarx"}`}, []string{`{"a":"foo"}`}},
		{"bool value", "  sel: {Enabled: true}\n  condition: sel",
			[]string{`{"Enabled":true}`, `{"Enabled":"True"}`}, []string{`{"Enabled":false}`}},
	})
}

func TestConditions(t *testing.T) {
	ev := func(fields ...string) string {
		var parts []string
		for _, f := range fields {
			parts = append(parts, `"`+f+`":"x"`)
		}
		return "{" + strings.Join(parts, ",") + "}"
	}
	det := "  a: {A: x}\n  b: {B: x}\n  c: {C: x}\n  sel_1: {D: x}\n  sel_2: {E: x}\n  _hidden: {H: x}\n  filter_x: {F: x}\n"
	runCases(t, []matchCase{
		{"and binds tighter than or", det + "  condition: a or b and c", []string{ev("A"), ev("B", "C")}, []string{ev("B"), ev("C")}},
		{"not binds tighter than and", det + "  condition: not a and b", []string{ev("B")}, []string{ev("A", "B"), ev()}},
		{"parentheses", det + "  condition: (a or b) and c", []string{ev("A", "C")}, []string{ev("A"), ev("B")}},
		{"upper-case keywords", det + "  condition: a AND NOT b", []string{ev("A")}, []string{ev("A", "B")}},
		{"1 of pattern", det + "  condition: 1 of sel_*", []string{ev("E")}, []string{ev("A")}},
		{"all of pattern", det + "  condition: all of sel_*", []string{ev("D", "E")}, []string{ev("D")}},
		{"digit before star", det + "  condition: 1 of sel_1*", []string{ev("D")}, []string{ev("E")}},
		{"leading star", det + "  condition: a and not 1 of *_x", []string{ev("A")}, []string{ev("A", "F")}},
		{"them excludes underscore", det + "  condition: all of them", []string{ev("A", "B", "C", "D", "E", "F")}, []string{ev("A", "B", "C", "D", "E", "H")}},
		{"1 of them", det + "  condition: 1 of them", []string{ev("F")}, []string{ev("H"), ev()}},
		{"not of", det + "  condition: a and not 1 of sel*", []string{ev("A")}, []string{ev("A", "E")}},
		{"condition list is OR", det + "  condition: [a, b]", []string{ev("B")}, []string{ev("C")}},
	})
}

func TestCompileErrors(t *testing.T) {
	cases := map[string]string{
		"  sel: {A: x}\n  condition: other":                       "not defined",
		"  sel: {A: x}\n  condition: 1 of nope*":                  "matches no search identifier",
		"  sel: {A|nosuch: x}\n  condition: sel":                  "unknown modifier",
		"  sel: {A|re: '(?<=x)y'}\n  condition: sel":              "regular expression",
		"  sel: {A: [x, null]}\n  condition: sel":                 "null cannot appear",
		"  sel: {A|contains|startswith: x}\n  condition: sel":     "cannot be combined",
		"  sel: {A: x}\n  condition: sel | count() > 5":           "correlation rule",
		"  sel: {A: x}\n  condition: sel and":                     "unexpected end",
		"  sel: {A|i: x}\n  condition: sel":                       "needs the re modifier",
		"  sel: {A|exists: maybe}\n  condition: sel":              "exists takes true or false",
		"  sel: {A: x}\n  condition: 2 of sel":                    "only '1 of' and 'all of'",
		"  sel: {A|base64: 'x*'}\n  condition: sel":               "wildcards",
		"  sel: {A|gt: abc}\n  condition: sel":                    "not a number",
		"  sel: {A|cidr: 10.0.0.300/8}\n  condition: sel":         "is not an IPv4 or IPv6 network",
		"  sel: {A|fieldref|re: B}\n  condition: sel":             "fieldref",
		"  sel: {A|minute|contains: 3}\n  condition: sel":         "time modifier",
		"  sel: {A: x}\n  condition: sel or (sel":                 "missing ')'",
		"  sel: {A: x}\n  condition: sel_*":                       "can only follow",
		"  sel: {A: x}\n  condition: sel $ sel":                   "unexpected character",
		"  sel: {A|base64offset|re: x}\n  condition: sel":         "re must come before",
		"  sel: {A: x}\n  sel2: {B: y}\n  condition: any of sel*": "'any of' is not Sigma",
	}
	for det, want := range cases {
		set := &rules.Set{}
		set.Add("bad.yml", []byte(ruleYAML(det)))
		if len(set.Errors) > 0 {
			if !strings.Contains(set.Errors[0].Error(), want) {
				t.Errorf("%q: parse error %v, want %q", det, set.Errors[0], want)
			}
			continue
		}
		e := Compile(set.Rules, Options{NoRouting: true})
		if len(e.Errors) != 1 || !strings.Contains(e.Errors[0].Error(), want) {
			t.Errorf("%q: errors %v, want %q", det, e.Errors, want)
			continue
		}
		if !strings.HasPrefix(e.Errors[0].Error(), "bad.yml:") {
			t.Errorf("%q: error lacks its position: %v", det, e.Errors[0])
		}
	}
}

func TestMatcherAllocatesNothing(t *testing.T) {
	if race.Enabled {
		t.Skip("the race detector's instrumentation allocates")
	}
	e := compileOne(t, ruleYAML("  sel: {CommandLine|contains: [' -enc ', 'frombase64'], Image|endswith: '\\powershell.exe'}\n  f: {User|re: '^NT AUTHORITY'}\n  condition: sel and not f"), Options{})
	m := e.NewMatcher()
	raw := []byte(`{"Image":"C:\\Windows\\powershell.exe","CommandLine":"powershell -enc ZQBjAGgAbwA=","User":"CORP\\alice"}`)
	got, err := m.Match(raw)
	if err != nil || len(got) != 1 {
		t.Fatalf("got %v %v", got, err)
	}
	if a := testing.AllocsPerRun(200, func() { _, _ = m.Match(raw) }); a != 0 {
		t.Fatalf("Match allocates %v times per event", a)
	}
}
