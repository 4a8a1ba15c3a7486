package agent

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/vigil-detect/vigil/config"
	"github.com/vigil-detect/vigil/internal/kafkatest"
)

// logonEvent is a Security 4625 (failed) or 4624 (success, RDP) logon from an external address.
func logonEvent(at time.Time, id int, logonType int) []byte {
	b, _ := json.Marshal(map[string]any{
		"Channel": "Security", "EventID": id, "Computer": "NW-WS101.northwind.local",
		"TimeCreated_SystemTime": at.Format(time.RFC3339Nano), "IpAddress": "198.51.100.77",
		"TargetUserName": "Administrator", "TargetDomainName": "NORTHWIND", "LogonType": logonType,
	})
	return b
}

// TestCorrelationStraddlesRestart: the first half of a brute force reaches one agent, which
// stops (saving the correlation state with the offsets it committed); the second half reaches
// a new agent, which restores the state and fires the brute force, then the brute force
// followed by the RDP logon, each exactly once.
func TestCorrelationStraddlesRestart(t *testing.T) {
	b := testBroker(t, "events", "vigil-alerts", "vigil-dead-letter")
	cfg := config.Default()
	cfg.Rules = []string{BuiltinStarter}
	cfg.Kafka.Brokers = []string{b.Addr}
	cfg.Kafka.Group = "restart"
	cfg.Metrics.Addr = "127.0.0.1:0"
	snap := filepath.Join(t.TempDir(), "correlation.snap")
	if err := yaml.Unmarshal([]byte(fmt.Sprintf("snapshot: {path: %s, interval: 100ms}\n", snap)), &cfg.Correlation); err != nil {
		t.Fatal(err)
	}
	cfg.Correlation = *cfg.Correlation.Content[0]

	t0 := time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)
	runUntilCommitted := func(values [][]byte) {
		t.Helper()
		kafkatest.Produce(t, b.Addr, "events", values)
		a := &Agent{Config: cfg, Log: quietLog()}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- a.Run(ctx) }()
		ends := kafkatest.EndOffsets(t, b.Addr, "events", 3)
		deadline := time.Now().Add(30 * time.Second)
		for !kafkatest.AllCommitted(committed(t, b.Addr, "restart", "events"), ends) {
			if time.Now().After(deadline) {
				t.Fatalf("offsets not committed")
			}
			time.Sleep(100 * time.Millisecond)
		}
		cancel()
		if err := <-done; err != nil {
			t.Fatalf("agent: %v", err)
		}
	}
	var first, second [][]byte
	for i := range 5 {
		first = append(first, logonEvent(t0.Add(time.Duration(i)*time.Second), 4625, 3))
		second = append(second, logonEvent(t0.Add(time.Duration(5+i)*time.Second), 4625, 3))
	}
	second = append(second, logonEvent(t0.Add(20*time.Second), 4624, 10))
	// Event time moves on (a logon from inside, matching nothing): the windows become final.
	quiet, _ := json.Marshal(map[string]any{"Channel": "Security", "EventID": 4624, "LogonType": 3, "IpAddress": "10.0.0.5",
		"TimeCreated_SystemTime": t0.Add(2 * time.Minute).Format(time.RFC3339Nano)})
	second = append(second, quiet)
	runUntilCommitted(first)
	runUntilCommitted(second)

	got := readAll(t, b.Addr, "vigil-alerts", 4, 3*time.Second)
	titles := map[string]int{}
	for _, m := range got {
		var al struct {
			Kind string `json:"kind"`
			Rule struct {
				Title string `json:"title"`
			} `json:"rule"`
		}
		if err := json.Unmarshal(m.Value, &al); err != nil {
			t.Fatal(err)
		}
		titles[al.Rule.Title]++
	}
	for _, want := range []string{"Brute Force Of One Account From An External Address", "Brute Force Followed By A Successful RDP Logon",
		"Successful RDP Logon From An External Address"} {
		if titles[want] != 1 {
			t.Errorf("%q written %d times, want once (all: %v)", want, titles[want], titles)
		}
	}
	if len(got) != 3 {
		t.Errorf("%d alerts, want 3: %v", len(got), titles)
	}
}
