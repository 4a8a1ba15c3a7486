package agent

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vigil-detect/vigil/bench/gen"
	"github.com/vigil-detect/vigil/config"
	"github.com/vigil-detect/vigil/correlate"
	"github.com/vigil-detect/vigil/pipeline"
)

func quietLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// evalFile runs Eval with the given rules over the input and returns the decoded alerts.
func evalInput(t *testing.T, rulePaths []string, input string) ([]map[string]any, string) {
	t.Helper()
	cfg := config.Default()
	cfg.Rules = rulePaths
	var out, logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	_, err := Eval(context.Background(), cfg, []string{"-"}, strings.NewReader(input), &out, log)
	if err != nil {
		t.Fatalf("eval: %v\n%s", err, logs.String())
	}
	var alerts []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		if line == "" {
			continue
		}
		var a map[string]any
		if err := json.Unmarshal([]byte(line), &a); err != nil {
			t.Fatalf("alert is not JSON: %v: %s", err, line)
		}
		alerts = append(alerts, a)
	}
	return alerts, logs.String()
}

func readExample(t *testing.T) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "examples", "events.ndjson"))
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

func TestEvalExampleWithStarterRules(t *testing.T) {
	alerts, _ := evalInput(t, []string{BuiltinStarter}, readExample(t))
	byTitle := map[string]int{}
	for _, a := range alerts {
		// The contract: id, time, kind, rule{id,title,level,tags}, score, entities{user,host,ip},
		// and event (detection) or group and correlation (correlation).
		keys := []string{"id", "time", "kind", "rule", "score", "entities", "event"}
		if a["kind"] == "correlation" {
			keys = append(keys[:6], "group", "correlation")
		}
		for _, k := range keys {
			if _, ok := a[k]; !ok {
				t.Fatalf("alert lacks %q: %v", k, a)
			}
		}
		rule := a["rule"].(map[string]any)
		for _, k := range []string{"id", "title", "level", "tags"} {
			if _, ok := rule[k]; !ok {
				t.Fatalf("alert rule lacks %q: %v", k, rule)
			}
		}
		ents := a["entities"].(map[string]any)
		for _, k := range []string{"user", "host", "ip"} {
			if _, ok := ents[k].([]any); !ok {
				t.Fatalf("entities.%s is not a list: %v", k, ents)
			}
		}
		if _, err := time.Parse(time.RFC3339, a["time"].(string)); err != nil {
			t.Fatalf("time %q is not RFC 3339", a["time"])
		}
		if s := a["score"].(float64); s < 0 || s > 100 {
			t.Fatalf("score %v out of range", s)
		}
		byTitle[rule["title"].(string)]++
	}
	// Every starter rule fires on the attack story in the example: detection rules on their
	// own, except those only correlations use (no generate: their alerts are withheld), and
	// every correlation rule.
	set := LoadRules([]string{BuiltinStarter})
	cs := correlate.Compile(set)
	rs := CompileSet(set, pipeline.RuleOptions{})
	for _, r := range rs.Detect.Rules {
		if cs.Suppress(r) {
			if byTitle[r.Title] != 0 {
				t.Errorf("rule %q is used by correlations without generate, yet alerted", r.Title)
			}
			continue
		}
		if byTitle[r.Title] == 0 {
			t.Errorf("starter rule %q did not fire; got %v", r.Title, byTitle)
		}
	}
	if len(cs.Rules) != 4 {
		t.Fatalf("%d starter correlations, want 4", len(cs.Rules))
	}
	for _, c := range cs.Rules {
		if byTitle[c.Title] != 1 {
			t.Errorf("starter correlation %q fired %d times, want once", c.Title, byTitle[c.Title])
		}
	}
}

// TestStarterCorrelationsOnGeneratedTraffic: with the attack story every starter correlation
// fires once; over background traffic alone none does.
func TestStarterCorrelationsOnGeneratedTraffic(t *testing.T) {
	correlations := func(o gen.Options, n int) map[string]int {
		var in bytes.Buffer
		if err := gen.WriteNDJSON(&in, o, n); err != nil {
			t.Fatal(err)
		}
		alerts, _ := evalInput(t, []string{BuiltinStarter}, in.String())
		out := map[string]int{}
		for _, a := range alerts {
			if a["kind"] == "correlation" {
				out[a["rule"].(map[string]any)["title"].(string)]++
			}
		}
		return out
	}
	got := correlations(gen.Options{Seed: 3}, 12000) // 12 s at 1000 events/s; the story is at 3-9.4 s
	for _, c := range correlate.Compile(LoadRules([]string{BuiltinStarter})).Rules {
		if got[c.Title] != 1 {
			t.Errorf("%q fired %d times on the attack story, want once (all: %v)", c.Title, got[c.Title], got)
		}
	}
	// Ten minutes of background at 100 events/s: typos, admins, whoami, net use, but no attack.
	if quiet := correlations(gen.Options{Seed: 4, Rate: 100, AttackAt: -1}, 60000); len(quiet) > 0 {
		t.Errorf("correlations fired on background traffic: %v", quiet)
	}
}

func TestEvalIsDeterministicAndOrdered(t *testing.T) {
	in := readExample(t)
	a1, _ := evalInput(t, []string{BuiltinStarter}, in)
	a2, _ := evalInput(t, []string{BuiltinStarter}, in)
	if len(a1) == 0 || len(a1) != len(a2) {
		t.Fatalf("runs differ in size: %d vs %d", len(a1), len(a2))
	}
	var last time.Time
	for i := range a1 {
		if a1[i]["id"] != a2[i]["id"] {
			t.Fatalf("alert %d: id %v then %v", i, a1[i]["id"], a2[i]["id"])
		}
		// Detection alerts come in input order; a correlation alert comes when its window is
		// final (its time plus the allowed lateness, or the end of the input).
		if a1[i]["kind"] != "detection" {
			continue
		}
		ts, _ := time.Parse(time.RFC3339Nano, a1[i]["time"].(string))
		if ts.Before(last) {
			t.Fatalf("alert %d is out of input order", i)
		}
		last = ts
	}
}

func TestEvalReportsBadLinesAndContinues(t *testing.T) {
	rule := filepath.Join(t.TempDir(), "r.yml")
	os.WriteFile(rule, []byte("title: T\nid: 11111111-1111-1111-1111-111111111111\nlogsource: {product: test}\n"+
		"detection:\n  sel: {CommandLine|contains: mimikatz}\n  condition: sel\nlevel: high\n"), 0o644)
	input := `{"CommandLine":"run mimikatz"}` + "\n" +
		`not json` + "\n" +
		`[1,2,3]` + "\n" +
		"\n" +
		`{"CommandLine":"MIMIKATZ again"}` + "\n"
	alerts, logs := evalInput(t, []string{rule}, input)
	if len(alerts) != 2 {
		t.Fatalf("want 2 alerts, got %d", len(alerts))
	}
	for _, want := range []string{"line=2", "reason=invalid_json", "line=3", "reason=not_object"} {
		if !strings.Contains(logs, want) {
			t.Errorf("stderr lacks %q:\n%s", want, logs)
		}
	}
	if a := alerts[0]["rule"].(map[string]any); a["level"] != "high" {
		t.Errorf("level %v", a["level"])
	}
	if alerts[0]["score"].(float64) != 75 {
		t.Errorf("high alert scored %v", alerts[0]["score"])
	}
}
