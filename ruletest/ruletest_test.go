package ruletest

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/vigil-detect/vigil/detect"
	"github.com/vigil-detect/vigil/rules"
)

const rule = `title: Encoded PowerShell
id: 11111111-2222-3333-4444-555555555555
name: enc_ps
logsource: {category: process_creation, product: windows}
detection:
  sel: {CommandLine|windash|contains: ' -enc '}
  condition: sel
`

func write(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func engineFor(t *testing.T, dir string) *detect.Engine {
	t.Helper()
	set := rules.Load(dir)
	if len(set.Errors) > 0 {
		t.Fatal(set.Errors)
	}
	return detect.Compile(set.Rules, detect.Options{})
}

func TestRunCases(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "enc.yml", rule)
	write(t, dir, "samples.ndjson", `{"Channel":"Microsoft-Windows-Sysmon/Operational","EventID":1,"CommandLine":"powershell /enc AAA"}`+"\n\n"+
		`{"Channel":"Microsoft-Windows-Sysmon/Operational","EventID":1,"CommandLine":"powershell -nop"}`+"\n")
	write(t, dir, "enc.test.yml", `tests:
  - name: dash
    match: true
    event: {Channel: Microsoft-Windows-Sysmon/Operational, EventID: 1, CommandLine: 'powershell -enc AAA'}
  - name: wrong expectation
    match: false
    event: {Channel: Microsoft-Windows-Sysmon/Operational, EventID: 1, CommandLine: 'powershell -enc AAA'}
  - name: samples
    match: true
    events_file: samples.ndjson
---
rule: enc_ps
tests:
  - name: by name, another logsource
    match: true
    event: {Channel: System, EventID: 1, CommandLine: 'powershell -enc AAA'}
---
rule: no such rule
tests:
  - {name: missing, match: true, event: {a: 1}}
`)
	// Rule loading skips test files in directories.
	if set := rules.Load(dir); len(set.Errors) != 0 || len(set.Rules) != 1 {
		t.Fatalf("rules %d, errors %v", len(set.Rules), set.Errors)
	}
	cases, errs := Load(dir)
	if len(errs) != 0 || len(cases) != 6 {
		t.Fatalf("cases %d, errors %v", len(cases), errs)
	}
	rep := Run(engineFor(t, dir), cases, nil)
	pass := map[string]bool{}
	for _, r := range rep.Results {
		pass[r.Name] = r.Pass
	}
	want := map[string]bool{
		"dash": true, "wrong expectation": false, "samples (samples.ndjson:1)": true,
		"samples (samples.ndjson:3)": false, "by name, another logsource": false, "missing": false,
	}
	for name, w := range want {
		if pass[name] != w {
			t.Errorf("%s: pass %v, want %v", name, pass[name], w)
		}
	}
	if rep.Failures != 4 {
		t.Errorf("failures %d", rep.Failures)
	}
	var out bytes.Buffer
	rep.Write(&out, false)
	text := out.String()
	for _, s := range []string{
		"FAIL  " + filepath.Join(dir, "enc.test.yml") + ":5 wrong expectation: expected no match, it matched\n",
		"      sel: true\n",
		`CommandLine="powershell -enc AAA" ~ * -enc *`,
		"not of the rule's logsource",
		`ERROR ` + filepath.Join(dir, "enc.test.yml") + `:20 missing: no rule "no such rule" (by id, name or title)`,
		"6 tests, 4 failures\n",
	} {
		if !strings.Contains(text, s) {
			t.Errorf("report lacks %q:\n%s", s, text)
		}
	}
	if strings.Contains(text, "PASS") {
		t.Errorf("passing cases are printed only with -v:\n%s", text)
	}
}

func TestEventJSONKeepsValues(t *testing.T) {
	var n yaml.Node
	src := "{a: 18446744073709551615, b: 0x10, c: 1.5, d: true, e: null, f: 'x\"y', g: [1, two], h: {i: .inf}, j: 1e3, k: '007'}"
	if err := yaml.Unmarshal([]byte(src), &n); err != nil {
		t.Fatal(err)
	}
	got, err := eventJSON(n.Content[0])
	if err != nil {
		t.Fatal(err)
	}
	want := `{"a":18446744073709551615,"b":16,"c":1.5,"d":true,"e":null,"f":"x\"y","g":[1,"two"],"h":{"i":".inf"},"j":1e3,"k":"007"}`
	if string(got) != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}

func TestLoadErrors(t *testing.T) {
	cases := map[string]string{
		"rule: x\ntests:\n  - {name: a, event: {x: 1}}\n":                              "t.test.yml:3: test \"a\": say match: true or match: false",
		"rule: x\ntests:\n  - {name: a, match: true}\n":                                "give an event or an events_file",
		"rule: x\ntests:\n  - {name: a, match: true, event: {x: 1}, events_file: f}\n": "not both",
		"rule: x\ntests:\n  - {name: a, match: true, evnt: {x: 1}}\n":                  "t.test.yml:3: test: field evnt not found",
		"rule: x\ntests:\n  - {name: a, match: true, event: 'not json'}\n":             "a string event must hold JSON",
		"rule: x\ntests:\n  - {name: a, match: true, event: [1]}\n":                    "an event is a mapping",
		"rule: x\ntests:\n  - {name: a, match: true, events_file: nope.ndjson}\n":      "no such file",
		"rule: x\n": "t.test.yml:1: no tests",
		"tests:\n  - {name: a, match: true, event: {x: 1}}\n": "put the test file beside its rule file",
		"rule: x\ntests: [\n": "t.test.yml:",
		"rule: x\nbogus: 1\ntests:\n  - {name: a, match: true, event: {x: 1}}\n": "field bogus not found",
	}
	for src, want := range cases {
		dir := t.TempDir()
		p := write(t, dir, "t.test.yml", src)
		_, errs := Load(p)
		if len(errs) != 1 || !strings.Contains(errs[0].Error(), want) {
			t.Errorf("%q: errors %v, want %q", src, errs, want)
		}
	}
}

func TestSiblingWithSeveralRules(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "two.yml", rule+"---\n"+strings.Replace(strings.Replace(rule, "5555", "6666", 1), "enc_ps", "enc_ps2", 1))
	write(t, dir, "two.test.yml", "tests:\n  - {name: a, match: true, event: {x: 1}}\n")
	cases, _ := Load(dir)
	rep := Run(engineFor(t, dir), cases, nil)
	if len(rep.Results) != 1 || rep.Results[0].Err == nil || !strings.Contains(rep.Results[0].Err.Error(), "holds 2 rules: name one with rule:") {
		t.Fatalf("%+v", rep.Results)
	}
}
