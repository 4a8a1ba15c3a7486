package agent

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/vigil-detect/vigil/bench/gen"
	"github.com/vigil-detect/vigil/broker"
	"github.com/vigil-detect/vigil/config"
	"github.com/vigil-detect/vigil/internal/kafkatest"
	"github.com/vigil-detect/vigil/stream"
)

// testBroker starts kfake on 127.0.0.1 with the agent's topics.
func testBroker(t *testing.T, topics ...string) *broker.Broker {
	t.Helper()
	b, err := broker.Start(broker.Options{Topics: topics, Partitions: 3})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	return b
}

// readAll reads the three partitions of topic from the start until want records arrived or the
// deadline passed.
func readAll(t *testing.T, addr, topic string, want int, within time.Duration) []kafka.Message {
	t.Helper()
	return readWith(t, stream.KafkaConfig{Brokers: []string{addr}}, topic, 3, want, within)
}

// TestAgentKafkaEndToEnd produces the generated attack story with kafka-go into kfake, runs the
// agent, reads the alerts topic back, and checks the alerts, the dead-lettered records and that
// every consumed offset was committed.
func TestAgentKafkaEndToEnd(t *testing.T) {
	b := testBroker(t, "events", "vigil-alerts", "vigil-dead-letter")
	g := gen.New(gen.Options{Seed: 7, Rate: 200, AttackAt: time.Second})
	var values [][]byte
	// Background continues 35 s of event time past the story: correlations are decided once
	// event time is the allowed lateness (30 s) past their window.
	until := g.Options().Start.Add(time.Second + gen.StoryDuration + 35*time.Second)
	for i := 0; i < 20000 && g.Time().Before(until); i++ {
		values = append(values, g.Next(nil))
	}
	values = append(values, []byte(`not json at all`), []byte(`["an","array"]`))
	kafkatest.Produce(t, b.Addr, "events", values)

	cfg := config.Default()
	cfg.Rules = []string{BuiltinStarter}
	cfg.Kafka.Brokers = []string{b.Addr}
	cfg.Kafka.Group = "it"
	cfg.Metrics.Addr = "127.0.0.1:0"
	a := &Agent{Config: cfg, Log: quietLog()}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()

	// The same rules over the same events with eval give the expected alert ids.
	expected := map[string]bool{}
	alerts, _ := evalInput(t, []string{BuiltinStarter}, string(joinLines(values)))
	for _, al := range alerts {
		expected[al["id"].(string)] = true
	}
	// Wait until everything is committed, then stop the agent gracefully.
	ends := kafkatest.EndOffsets(t, b.Addr, "events", 3)
	deadline := time.Now().Add(30 * time.Second)
	for {
		c := committed(t, b.Addr, "it", "events")
		if kafkatest.AllCommitted(c, ends) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("committed %v, want %v", c, ends)
		}
		time.Sleep(100 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("agent: %v", err)
	}
	// Alerts are written before offsets are committed, so all are there now; ask for one more
	// than expected to catch extras.
	got := readAll(t, b.Addr, "vigil-alerts", len(expected)+1, 3*time.Second)
	dead := readAll(t, b.Addr, "vigil-dead-letter", 3, 2*time.Second)

	if len(got) != len(expected) {
		t.Errorf("alerts topic holds %d alerts, eval gives %d", len(got), len(expected))
	}
	for _, m := range got {
		var al struct {
			ID     string `json:"id"`
			Source struct {
				Topic  string `json:"topic"`
				Offset int64  `json:"offset"`
			} `json:"source"`
		}
		if err := json.Unmarshal(m.Value, &al); err != nil {
			t.Fatal(err)
		}
		if !expected[al.ID] {
			t.Errorf("unexpected alert %s", m.Value)
		}
		if al.Source.Topic != "events" || string(m.Key) != al.ID {
			t.Errorf("alert source/key wrong: key %s %s", m.Key, m.Value)
		}
	}
	if len(dead) != 2 {
		t.Fatalf("dead-letter topic holds %d records, want 2", len(dead))
	}
	reasons := map[string]bool{}
	for _, m := range dead {
		reasons[kafkatest.Header(m, "vigil-error-reason")] = true
	}
	if !reasons["invalid_json"] || !reasons["not_object"] {
		t.Errorf("dead-letter reasons %v", reasons)
	}
}

// committed returns the group's committed offsets of the three partitions of topic.
func committed(t *testing.T, addr, group, topic string) map[int]int64 {
	t.Helper()
	c, err := kafkatest.Committed(addr, group, topic, 3)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func joinLines(values [][]byte) []byte {
	var out []byte
	for _, v := range values {
		out = append(append(out, v...), '\n')
	}
	return out
}
