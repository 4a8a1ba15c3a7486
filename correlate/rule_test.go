package correlate_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/vigil-detect/vigil/correlate"
	"github.com/vigil-detect/vigil/rules"
)

func compileYAML(t *testing.T, doc string) (*correlate.Set, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "r.yml")
	if err := os.WriteFile(path, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	set := rules.Load(path)
	if len(set.Errors) > 0 {
		t.Fatalf("load: %v", set.Errors)
	}
	return correlate.Compile(set), path
}

func TestRuleErrors(t *testing.T) {
	head := "---\ntitle: C\nid: 30000000-0000-0000-0000-000000000001\nname: c\ncorrelation:\n"
	cases := []struct {
		name, body, want string
		line             int
	}{
		{"unknown rule", "  type: event_count\n  rules: [nope]\n  group-by: [u]\n  timespan: 1m\n  condition: {gte: 2}", `no rule has the id or name "nope"`, 7},
		{"self reference", "  type: event_count\n  rules: [c]\n  timespan: 1m\n  condition: {gte: 2}", "this correlation itself", 7},
		{"unknown type", "  type: event_sum\n  rules: [fail]\n  timespan: 1m\n  condition: {gte: 2}", `type "event_sum"`, 6},
		{"missing type", "  rules: [fail]\n  timespan: 1m\n  condition: {gte: 2}", "type is missing", 6},
		{"missing rules", "  type: event_count\n  timespan: 1m\n  condition: {gte: 2}", "rules is missing", 6},
		{"missing timespan", "  type: event_count\n  rules: [fail]\n  condition: {gte: 2}", "timespan is missing", 6},
		{"bad timespan", "  type: event_count\n  rules: [fail]\n  timespan: 1.5h\n  condition: {gte: 2}", "whole number followed by s, m, h or d", 8},
		{"upper-case unit", "  type: event_count\n  rules: [fail]\n  timespan: 1M\n  condition: {gte: 2}", "timespan", 8},
		{"zero timespan", "  type: event_count\n  rules: [fail]\n  timespan: 0s\n  condition: {gte: 2}", "longer than zero", 8},
		{"missing condition", "  type: event_count\n  rules: [fail]\n  timespan: 1m", "condition is missing", 6},
		{"condition not a number", "  type: event_count\n  rules: [fail]\n  timespan: 1m\n  condition: {gte: ten}", "want a number", 9},
		{"unknown condition key", "  type: event_count\n  rules: [fail]\n  timespan: 1m\n  condition: {gte: 2, max: 3}", "condition.max: unknown key", 9},
		{"impossible range", "  type: event_count\n  rules: [fail]\n  timespan: 1m\n  condition: {gt: 5, lt: 3}", "can never be true", 9},
		{"value_count without field", "  type: value_count\n  rules: [fail]\n  timespan: 1m\n  condition: {gte: 2}", "field is missing", 9},
		{"value_sum without field", "  type: value_sum\n  rules: [fail]\n  timespan: 1m\n  condition: {gte: 2}", "field is missing", 9},
		{"field on event_count", "  type: event_count\n  rules: [fail]\n  timespan: 1m\n  condition: {gte: 2, field: x}", "only for value_*", 9},
		{"percentile missing", "  type: value_percentile\n  rules: [fail]\n  timespan: 1m\n  condition: {gte: 2, field: x}", "percentile is missing", 9},
		{"percentile out of range", "  type: value_percentile\n  rules: [fail]\n  timespan: 1m\n  condition: {gte: 2, field: x, percentile: 101}", "from 0 to 100", 9},
		{"unknown key", "  type: event_count\n  rules: [fail]\n  timespan: 1m\n  condition: {gte: 2}\n  groupby: [u]", "correlation.groupby: unknown key", 10},
		{"duplicate rule", "  type: temporal\n  rules: [fail, fail]\n  timespan: 1m", `lists "fail" twice`, 7},
		{"same rule twice by id and name", "  type: temporal\n  rules: [fail, 00000000-0000-0000-0000-00000000000a]\n  timespan: 1m", "are the same rule", 7},
		{"alias of a rule not referred to", "  type: temporal\n  rules: [fail, success]\n  group-by: [x]\n  timespan: 1m\n  aliases:\n    x:\n      recon: u", `"recon" is not one of this correlation's rules`, 12},
		{"generate not a bool", "  type: event_count\n  rules: [fail]\n  timespan: 1m\n  condition: {gte: 2}\n  generate: yes please", "generate must be true or false", 10},
		{"string condition", "  type: temporal\n  rules: [fail]\n  timespan: 1m\n  condition: fail and success", "must be a mapping", 9},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cs, path := compileYAML(t, detections+head+c.body+"\n")
			if len(cs.Errors) != 1 || len(cs.Rules) != 0 {
				t.Fatalf("want one error and no rule, got %v (%d rules)", cs.Errors, len(cs.Rules))
			}
			var re *rules.Error
			if !errors.As(cs.Errors[0], &re) || re.Path != path {
				t.Fatalf("not a *rules.Error with the path: %v", cs.Errors[0])
			}
			if !strings.Contains(re.Err.Error(), c.want) {
				t.Errorf("error %q lacks %q", re.Err, c.want)
			}
			// Lines count from the start of the file; the detections take 36 lines, so 1 is
			// the correlation document's "---" and 6 the first key of its section.
			if got := re.Line - 36; got != c.line {
				t.Errorf("line %d (+36), want %d: %v", got, c.line, re)
			}
		})
	}
}

func TestCyclesAndDependentsAreErrors(t *testing.T) {
	doc := detections +
		corr("A", "a", "  type: temporal\n  rules: [b, fail]\n  timespan: 1m") +
		corr("B", "b", "  type: temporal\n  rules: [a, fail]\n  timespan: 1m") +
		corr("D", "d", "  type: temporal\n  rules: [a, success]\n  timespan: 1m") +
		corr("OK", "ok", "  type: event_count\n  rules: [fail]\n  timespan: 1m\n  condition: {gte: 2}")
	cs, _ := compileYAML(t, doc)
	if len(cs.Rules) != 1 || cs.Rules[0].Name != "ok" {
		t.Fatalf("valid rules %v", cs.Rules)
	}
	var msgs []string
	for _, e := range cs.Errors {
		msgs = append(msgs, e.Error())
	}
	all := strings.Join(msgs, "\n")
	for _, want := range []string{"cycle", `refers to correlation "a", which has errors`} {
		if !strings.Contains(all, want) {
			t.Errorf("errors lack %q:\n%s", want, all)
		}
	}
	if len(cs.Errors) != 3 {
		t.Errorf("want 3 errors (a, b, d):\n%s", all)
	}
}

func TestRuleDefaults(t *testing.T) {
	doc := detections +
		corr("T", "t", "  type: temporal\n  rules: [fail, success, recon]\n  group-by: u\n  timeframe: 90m") +
		"---\ntitle: G\nname: g\ngenerate: true\ncorrelation:\n  type: event_count\n  rules: fail\n  timespan: 2d\n  condition: {gt: 1, lte: 5}\n"
	cs, _ := compileYAML(t, doc)
	if len(cs.Errors) > 0 {
		t.Fatal(cs.Errors)
	}
	tr, g := cs.Rules[0], cs.Rules[1]
	if tr.Timespan != 90*time.Minute || len(tr.GroupBy) != 1 || !tr.Eager || tr.Cond.String() != "gte 3" {
		t.Errorf("temporal: timespan %v group-by %v eager %v condition %q", tr.Timespan, tr.GroupBy, tr.Eager, tr.Cond.String())
	}
	if g.Timespan != 48*time.Hour || !g.Generate || g.Eager || g.Key != "g" {
		t.Errorf("event_count: timespan %v generate %v eager %v key %q", g.Timespan, g.Generate, g.Eager, g.Key)
	}
}

func TestDecodeConfig(t *testing.T) {
	parse := func(s string) (correlate.Config, error) {
		var n yaml.Node
		if err := yaml.Unmarshal([]byte(s), &n); err != nil {
			t.Fatal(err)
		}
		return correlate.DecodeConfig(n.Content[0], "vigil.yml")
	}
	c, err := parse("allowed_lateness: 0s\nmax_keys: 5\nsnapshot: {path: /tmp/x, interval: 1m}\n")
	if err != nil {
		t.Fatal(err)
	}
	if c.AllowedLateness != 0 || c.MaxKeys != 5 || c.MaxEventsPerKey != correlate.DefaultMaxEventsPerKey || c.Snapshot.Interval != time.Minute {
		t.Errorf("%+v", c)
	}
	c, err = correlate.DecodeConfig(&yaml.Node{}, "")
	if err != nil || c.AllowedLateness != 30*time.Second || c.MaxKeys != correlate.DefaultMaxKeys {
		t.Errorf("defaults %+v %v", c, err)
	}
	for in, want := range map[string]string{
		"max_keyz: 3\n":               "vigil.yml:1: unknown key correlation.max_keyz (did you mean max_keys?)",
		"snapshot:\n  paht: x\n":      "vigil.yml:2: unknown key correlation.snapshot.paht (did you mean path?)",
		"allowed_lateness: 30\n":      "cannot unmarshal",
		"allowed_lateness: -1s\n":     "cannot be negative",
		"max_events_per_key: lots\n":  "cannot unmarshal",
		"snapshot: {interval: -5s}\n": "cannot be negative",
		"- a list\n":                  "want a mapping of keys",
	} {
		if _, err := parse(in); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: error %v, want %q", in, err, want)
		}
	}
}
