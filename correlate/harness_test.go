package correlate_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/vigil-detect/vigil/agent"
	"github.com/vigil-detect/vigil/alert"
	"github.com/vigil-detect/vigil/config"
	"github.com/vigil-detect/vigil/correlate"
	"github.com/vigil-detect/vigil/internal/syncbuf"
	"github.com/vigil-detect/vigil/metrics"
	"github.com/vigil-detect/vigil/pipeline"
	"github.com/vigil-detect/vigil/rules"
	"github.com/vigil-detect/vigil/stream"
)

var t0 = time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)

// ev is one NDJSON event at t0+sec with the given fields ("k=v" pairs).
func ev(sec float64, kv ...string) string {
	m := map[string]any{"@timestamp": t0.Add(time.Duration(sec * float64(time.Second))).Format(time.RFC3339Nano)}
	for _, p := range kv {
		k, v, _ := strings.Cut(p, "=")
		m[k] = v
	}
	b, _ := json.Marshal(m)
	return string(b)
}

// detections are test detection rules matching on `action`.
const detections = `
title: Failed logon
id: 00000000-0000-0000-0000-00000000000a
name: fail
logsource: {product: test}
detection:
  sel: {action: fail}
  condition: sel
level: low
---
title: Successful logon
id: 00000000-0000-0000-0000-00000000000b
name: success
logsource: {product: test}
detection:
  sel: {action: success}
  condition: sel
level: low
---
title: Recon command
id: 00000000-0000-0000-0000-00000000000c
name: recon
logsource: {product: test}
detection:
  sel: {action: recon}
  condition: sel
level: medium
---
title: Transfer
id: 00000000-0000-0000-0000-00000000000d
name: transfer
logsource: {product: test}
detection:
  sel: {action: transfer}
  condition: sel
level: informational
`

// corr wraps a correlation section (indented by the caller) into a document.
func corr(title, name, body string) string {
	return fmt.Sprintf("---\ntitle: %s\nid: 10000000-0000-0000-0000-%012x\nname: %s\nlevel: high\ncorrelation:\n%s\n",
		title, len(name)*7919+len(body), name, body)
}

type harness struct {
	t    testing.TB
	rs   *pipeline.Ruleset
	eng  *correlate.Engine
	met  *metrics.Metrics
	cfg  correlate.Config
	path string
	log  *syncbuf.Buffer
}

// newHarness loads rule documents (one multi-document file) and builds the engine with the
// `correlation:` configuration given as YAML ("" for the defaults).
func newHarness(t testing.TB, ruleYAML, cfgYAML string) *harness {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "rules.yml")
	if err := os.WriteFile(path, []byte(ruleYAML), 0o644); err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, path: path, log: &syncbuf.Buffer{}, met: metrics.New("test")}
	h.rs = agent.CompileSet(rules.Load(path), pipeline.RuleOptions{})
	for _, err := range h.rs.Errors() {
		t.Fatalf("rule error: %v", err)
	}
	var node yaml.Node
	if cfgYAML != "" {
		if err := yaml.Unmarshal([]byte(cfgYAML), &node); err != nil {
			t.Fatal(err)
		}
		node = *node.Content[0]
	}
	cfg, err := correlate.DecodeConfig(&node, "test")
	if err != nil {
		t.Fatal(err)
	}
	h.cfg = cfg
	h.eng = h.newEngine()
	return h
}

func (h *harness) newEngine() *correlate.Engine {
	h.t.Helper()
	log := slog.New(slog.NewTextHandler(h.log, nil))
	e, err := correlate.New(h.rs, h.cfg, correlate.Options{Log: log, Metrics: h.met})
	if err != nil {
		h.t.Fatal(err)
	}
	return e
}

type captureSink struct {
	mu     sync.Mutex
	alerts []*alert.Alert
}

func (s *captureSink) Write(_ context.Context, as []*alert.Alert) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.alerts = append(s.alerts, as...)
	return nil
}
func (s *captureSink) Close() error { return nil }

// run passes NDJSON lines through the pipeline (detection, then the engine) and returns the
// alerts written. The end of the lines is the end of the stream unless keepOpen.
func (h *harness) run(lines []string, keepOpen bool) []*alert.Alert {
	h.t.Helper()
	sink := &captureSink{}
	r := &pipeline.Runner{
		Source:   stream.NewLineSource(strings.NewReader(strings.Join(lines, "\n")+"\n"), 1<<20),
		Sinks:    []stream.Sink{sink},
		Stages:   []pipeline.Stage{h.eng},
		Log:      slog.New(slog.NewTextHandler(io.Discard, nil)),
		Config:   pipeline.Config{Workers: 2, BatchSize: 7},
		KeepOpen: keepOpen,
	}
	r.SetRules(h.rs)
	if err := r.Run(context.Background()); err != nil {
		h.t.Fatal(err)
	}
	return sink.alerts
}

// fired returns the correlation alerts of rule name, in output order.
func fired(as []*alert.Alert, name string) []*alert.Alert {
	var out []*alert.Alert
	for _, a := range as {
		if a.Kind == alert.KindCorrelation && a.Rule.Name == name {
			out = append(out, a)
		}
	}
	return out
}

// groups lists "value|value@seconds" for each alert of rule name (sorted).
func groups(as []*alert.Alert, name string) []string {
	var out []string
	for _, a := range fired(as, name) {
		var vals []string
		keys := make([]string, 0, len(a.Group))
		for k := range a.Group {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			vals = append(vals, a.Group[k])
		}
		out = append(out, fmt.Sprintf("%s@%g", strings.Join(vals, "|"), a.Time.Sub(t0).Seconds()))
	}
	sort.Strings(out)
	return out
}

func metricValue(t *testing.T, m *metrics.Metrics, name string, labels map[string]string) float64 {
	t.Helper()
	mfs, err := m.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, mt := range mf.GetMetric() {
			for _, lp := range mt.GetLabel() {
				if want, ok := labels[lp.GetName()]; ok && want != lp.GetValue() {
					continue next
				}
			}
			if mt.Counter != nil {
				return mt.Counter.GetValue()
			}
			return mt.Gauge.GetValue()
		}
	}
	return 0
}

var _ = config.Default
