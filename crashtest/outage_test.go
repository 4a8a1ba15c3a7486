package crashtest

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/vigil-detect/vigil/agent"
	"github.com/vigil-detect/vigil/broker"
	"github.com/vigil-detect/vigil/config"
	"github.com/vigil-detect/vigil/internal/kafkatest"
	"github.com/vigil-detect/vigil/internal/syncbuf"
)

// readyz returns the status code and body of the agent's /readyz.
func readyz(addr string) (int, string) {
	c := http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get("http://" + addr + "/readyz")
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

func waitReady(t *testing.T, addr string, want int, within time.Duration) string {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		code, body := readyz(addr)
		if code == want {
			return body
		}
		if time.Now().After(deadline) {
			t.Fatalf("/readyz answered %d %q for %v, want %d", code, body, within, want)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestBrokerOutage stops the broker under a running agent while it processes, checks that /readyz reports it, starts
// the broker again on the same address and data directory, and checks that the agent carries on
// without loss: every event produced before and after the outage evaluated, every alert written.
func TestBrokerOutage(t *testing.T) {
	if testing.Short() {
		t.Skip("skipped with -short")
	}
	dataDir := t.TempDir()
	opts := broker.Options{Addr: kafkatest.FreeAddr(t), Topics: []string{eventsTopic, alertsTopic, deadTopic}, Partitions: partitions, DataDir: dataDir}
	b, err := broker.Start(opts)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { b.Close() }()
	rulesDir := detectionRules(t)
	before, badBefore := chunk(0, 2000, 1)
	after, badAfter := chunk(1, 2000, 1)
	expected := expectedAlerts(t, rulesDir, append(append([][]byte{}, before...), after...))

	cfg := config.Default()
	cfg.Rules = []string{rulesDir}
	cfg.Kafka.Brokers = []string{b.Addr}
	cfg.Kafka.Group = "outage"
	cfg.Kafka.HeartbeatInterval = 500 * time.Millisecond
	cfg.Kafka.SessionTimeout = 3 * time.Second
	cfg.Kafka.RebalanceTimeout = 3 * time.Second
	cfg.Pipeline.MaxEventBytes = maxEvent
	cfg.Metrics.Addr = "127.0.0.1:0"
	logs := &syncbuf.Buffer{}
	a := &agent.Agent{Config: cfg, Log: slog.New(slog.NewTextHandler(logs, nil))}
	if err := a.Start(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	defer func() {
		cancel()
		<-done
	}()
	metricsAddr := a.MetricsAddr()

	waitReady(t, metricsAddr, http.StatusOK, 10*time.Second)
	// The broker goes away as soon as the records are in: the agent is fetching, writing
	// alerts and committing when it does, so its writes and commits fail and are retried.
	kafkatest.Produce(t, b.Addr, eventsTopic, before)
	time.Sleep(time.Duration(envInt("VIGIL_OUTAGE_DELAY_MS", 100)) * time.Millisecond)
	b.Close()
	body := waitReady(t, metricsAddr, http.StatusServiceUnavailable, 60*time.Second)
	if !strings.Contains(body, "kafka") {
		t.Errorf("/readyz during the outage: %q, want it to name kafka", body)
	}
	time.Sleep(2 * time.Second) // let the agent retry against the closed port a while

	if b, err = broker.Start(opts); err != nil {
		t.Fatalf("restart broker: %v", err)
	}
	kafkatest.Produce(t, b.Addr, eventsTopic, after)
	waitCommitted(t, b.Addr, "outage", eventsTopic, 90*time.Second, logs.String)
	waitReady(t, metricsAddr, http.StatusOK, 30*time.Second)
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("agent: %v", err)
	}
	done <- nil

	// Every dead-letter reason is counted under its label.
	mfs, err := a.Metrics.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	counted := map[string]float64{}
	for _, mf := range mfs {
		if mf.GetName() == "vigil_events_rejected_total" {
			for _, m := range mf.GetMetric() {
				counted[m.GetLabel()[0].GetValue()] = m.GetCounter().GetValue()
			}
		}
	}
	for _, br := range badBefore {
		if counted[br.reason] < 2 {
			t.Errorf("vigil_events_rejected_total{reason=%q} = %v, want at least 2", br.reason, counted[br.reason])
		}
	}

	records, dups := checkAlerts(t, kafkatest.ReadToEnd(t, b.Addr, alertsTopic, partitions), expected)
	dead := checkDeadLetters(t, kafkatest.ReadToEnd(t, b.Addr, deadTopic, partitions), append(badBefore, badAfter...))
	t.Logf("%d expected alerts, %d alert records (%d duplicates), %d dead-letter records", len(expected), records, dups, dead)
	if t.Failed() {
		t.Logf("agent log:\n%s", tail(logs.String(), 6000))
	}
}
