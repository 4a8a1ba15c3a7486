package respond

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vigil-detect/vigil/alert"
)

// BenchmarkProcess measures the stage's cost per alert on the pipeline goroutine: enrichment
// against a 10,000-address feed, scoring, suppression and entity risk; then with a playbook whose
// every decision is admitted and rendered (the default body holds the whole alert as JSON); then
// with the default guard rails, where an alert storm stops at the rate limit and breaker.
func BenchmarkProcess(b *testing.B) {
	for _, bc := range []struct{ name, playbooks string }{
		{"no-playbook", "playbooks: []"},
		{"decision-rendered", "playbooks: [{name: p, actions: [{action: block_ip}]}]"},
		{"storm-guarded", "playbooks: [{name: p, actions: [{action: guarded}]}]"},
	} {
		b.Run(bc.name, func(b *testing.B) { benchProcess(b, bc.playbooks) })
	}
}

func benchProcess(b *testing.B, playbooks string) {
	dir := b.TempDir()
	var feed strings.Builder
	for i := 0; i < 10000; i++ {
		fmt.Fprintf(&feed, "198.18.%d.%d\n", i/256, i%256)
	}
	os.WriteFile(filepath.Join(dir, "feed.txt"), []byte(feed.String()), 0o644)
	raw, err := os.ReadFile(filepath.Join("..", "examples", "events.ndjson"))
	if err != nil {
		b.Fatal(err)
	}
	event := []byte(strings.SplitN(string(raw), "\n", 2)[0])
	c, err := parseYAMLb(fmt.Sprintf(`
enrichment: {indicators: [{file: '%s'}], reload_interval: 0s}
risk: {threshold: 1000000}
suppress: {window: 1m}
rate_limit: unlimited
actions:
  block_ip: {type: webhook, url: 'http://127.0.0.1:9/x', rate_limit: unlimited, max_targets_per_minute: 0, cooldown: 0s}
  guarded: {type: webhook, target: ip, url: 'http://127.0.0.1:9/x'}
%s
`, filepath.Join(dir, "feed.txt"), playbooks))
	if err != nil {
		b.Fatal(err)
	}
	r, err := New(c, Options{Log: quietLog()})
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	alerts := make([]*alert.Alert, 1024)
	for i := range alerts {
		alerts[i] = &alert.Alert{
			ID: fmt.Sprint(i), Time: t0.Add(time.Duration(i) * time.Minute), Kind: alert.KindDetection,
			Rule:     alert.Rule{ID: "r", Title: "R", Level: "high"},
			Entities: alert.Entities{User: []string{fmt.Sprintf("user%d", i%100)}, Host: []string{fmt.Sprintf("WS%d", i%50)}, IP: []string{fmt.Sprintf("203.0.113.%d", i%250)}},
			Event:    event,
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		a := alerts[i%len(alerts)]
		a.Enrichment, a.Suppressed = nil, false
		r.Process(context.Background(), []*alert.Alert{a}, a.Time)
	}
}

// BenchmarkWebhookThroughput measures enforced webhook actions end to end (decision, queue,
// worker, HTTP POST to a local server, audit) with the default 4 workers.
func BenchmarkWebhookThroughput(b *testing.B) {
	rc := newReceiverB(b)
	c, err := parseYAMLb(fmt.Sprintf(`
rate_limit: unlimited
queue: {size: 100000}
actions: {block_ip: {type: webhook, url: '%s', secret: s, rate_limit: unlimited, max_targets_per_minute: 0, cooldown: 0s}}
playbooks: [{name: p, mode: enforce, actions: [{action: block_ip}]}]
`, rc.URL))
	if err != nil {
		b.Fatal(err)
	}
	r, err := New(c, Options{Log: quietLog()})
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		a := mk(alertSpec{rule: "r", ip: []string{fmt.Sprintf("198.18.%d.%d", i/250%250, i%250+1)}, at: time.Duration(i)})
		r.Process(context.Background(), []*alert.Alert{a}, a.Time)
	}
	r.Close() // waits for the queue to drain
	b.StopTimer()
	if n := len(rc.requests()); n != b.N {
		b.Fatalf("%d requests for %d actions", n, b.N)
	}
}
