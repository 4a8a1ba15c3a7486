package agent

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/vigil-detect/vigil/config"
)

// TestEvalWithResponse runs eval with a response section: duplicates are merged and their
// summary is written when the input ends (the runner flushes the stage), and entity risk raises
// a risk alert.
func TestEvalWithResponse(t *testing.T) {
	cfg := config.Default()
	cfg.Rules = []string{BuiltinStarter}
	cfg.Path = "test.yaml"
	if err := yaml.Unmarshal([]byte(`
suppress:
  rules:
    'Windows Utility Writes Into C:\Users\Public': {window: 10m, key: [host]}
risk: {threshold: 300, entities: [host]}
`), &cfg.Response); err != nil {
		t.Fatal(err)
	}
	var out, logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	if _, err := Eval(context.Background(), cfg, []string{"-"}, strings.NewReader(readExample(t)), &out, log); err != nil {
		t.Fatalf("eval: %v\n%s", err, logs.String())
	}
	var public []map[string]any
	var risk []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		var a map[string]any
		if err := json.Unmarshal([]byte(line), &a); err != nil {
			t.Fatal(err)
		}
		if _, ok := a["enrichment"].(map[string]any)["score_parts"]; !ok {
			t.Errorf("alert without score parts: %.200s", line)
		}
		rule := a["rule"].(map[string]any)
		if rule["title"] == `Windows Utility Writes Into C:\Users\Public` {
			public = append(public, a)
		}
		if a["kind"] == "risk" {
			risk = append(risk, a)
		}
	}
	// Three matches: the first at once, then one summary counting all three.
	if len(public) != 2 || public[0]["count"] != nil || public[1]["count"] != 3.0 {
		t.Errorf("merged alerts: %v", public)
	}
	hosts := map[any]bool{}
	for _, a := range risk {
		hosts[a["group"].(map[string]any)["host"]] = true
	}
	if !hosts["NW-WS101.northwind.local"] {
		t.Errorf("no risk alert for the attacked workstation: %v", hosts)
	}
}

func TestEvalRejectsBadResponseSection(t *testing.T) {
	cfg := config.Default()
	cfg.Rules = []string{BuiltinStarter}
	cfg.Path = "vigil.yaml"
	yaml.Unmarshal([]byte("playbooks:\n  - name: p\n    mode: enforced\n    actions: [{action: block_ip}]\n"), &cfg.Response)
	_, err := Eval(context.Background(), cfg, []string{"-"}, strings.NewReader(""), &bytes.Buffer{}, quietLog())
	if err == nil || !strings.Contains(err.Error(), `vigil.yaml:3: response.playbooks[0].mode: "enforced"`) {
		t.Errorf("error %v", err)
	}
}
