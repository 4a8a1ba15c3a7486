package agent

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/vigil-detect/vigil/broker"
	"github.com/vigil-detect/vigil/config"
)

const sshdPattern = `Failed password for (?:invalid user )?(?P<user>\S+) from (?P<src_ip>[0-9a-fA-F.:]+) port (?P<src_port>\d+)`

// hook is a local webhook receiver that records what it was sent.
type hook struct {
	mu     sync.Mutex
	bodies [][]byte
	auth   []string
	srv    *httptest.Server
}

func newHook(t *testing.T) *hook {
	h := &hook{}
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		h.mu.Lock()
		h.bodies = append(h.bodies, b)
		h.auth = append(h.auth, r.Header.Get("Authorization")+" "+r.Header.Get("Content-Type"))
		h.mu.Unlock()
	}))
	t.Cleanup(h.srv.Close)
	return h
}

// alerts decodes every JSON array body received.
func (h *hook) alerts(t *testing.T) []map[string]any {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []map[string]any
	for _, b := range h.bodies {
		var batch []map[string]any
		if err := json.Unmarshal(b, &batch); err != nil {
			t.Fatalf("webhook body is not a JSON array: %v\n%s", err, b)
		}
		out = append(out, batch...)
	}
	return out
}

func fileLines(path string) []string {
	data, _ := os.ReadFile(path)
	var out []string
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		out = append(out, sc.Text())
	}
	return out
}

// TestInputsAndSinks consumes a syslog topic (with field extraction) and a JSON topic, and writes
// alerts to four destinations at once, each in its own format.
func TestInputsAndSinks(t *testing.T) {
	b, err := broker.Start(broker.Options{Topics: []string{"auth", "events", "vigil-alerts", "vigil-dead-letter", "alerts-ocsf"}, Partitions: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	h := newHook(t)
	dir := t.TempDir()
	ecsFile := filepath.Join(dir, "alerts-ecs.ndjson")
	path := writeFile(t, dir, "vigil.yaml", fmt.Sprintf(`rules: [%s]
kafka:
  brokers: [%s]
  group: formats
inputs:
  - topic: auth
    format: syslog
    extract:
      - field: message
        pattern: '%s'
  - topic: events
output:
  sinks:
    - {type: kafka, topic: alerts-ocsf, format: ocsf, compression: snappy}
    - {type: file, path: %s, format: ecs}
    - type: webhook
      url: %s/hook
      format: ocsf
      body: array
      headers: {Authorization: "Bearer ${HOOK_TOKEN}"}
metrics:
  addr: 127.0.0.1:0
`, sshRules, b.Addr, sshdPattern, ecsFile, h.srv.URL))
	cfg, err := config.Parse(path, func(k string) (string, bool) { return "tok", k == "HOOK_TOKEN" })
	if err == nil {
		err = cfg.Validate()
	}
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.Topics(); strings.Join(got, ",") != "auth,events" {
		t.Fatalf("topics %v", got)
	}
	kc, err := KafkaConfig(cfg, quietLog())
	if err != nil {
		t.Fatal(err)
	}
	var auth []kafka.Message
	for i := 1; i <= 5; i++ {
		auth = append(auth, kafka.Message{Value: fmt.Appendf(nil,
			"<38>Mar  9 08:15:0%d web-1 sshd[41%02d]: Failed password for invalid user admin from 198.51.100.%d port 5214%d ssh2", i, i, i, i)})
	}
	auth = append(auth, kafka.Message{Value: []byte("this is not syslog"), Headers: []kafka.Header{{Key: "origin", Value: []byte("test")}}})
	if err := produceWith(kc, "auth", auth...); err != nil {
		t.Fatal(err)
	}
	if err := produceWith(kc, "events", kafka.Message{Value: sshdEvent(1)}, kafka.Message{Value: sshdEvent(2)}); err != nil {
		t.Fatal(err)
	}
	const want = 7
	a := &Agent{Config: cfg, Log: quietLog()}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	vigil := readWith(t, kc, "vigil-alerts", 2, want, 30*time.Second)
	ocsf := readWith(t, kc, "alerts-ocsf", 2, want, 10*time.Second)
	dead := readWith(t, kc, "vigil-dead-letter", 2, 1, 10*time.Second)
	deadline := time.Now().Add(10 * time.Second)
	for (len(fileLines(ecsFile)) < want || len(h.alerts(t)) < want) && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("agent: %v", err)
	}

	if len(vigil) != want || len(ocsf) != want {
		t.Fatalf("alerts: %d in vigil format, %d in OCSF; want %d each", len(vigil), len(ocsf), want)
	}
	ips := map[string]bool{}
	for _, m := range vigil {
		var al struct {
			Event    map[string]any
			Entities struct{ IP, User []string }
			Source   struct{ Topic string }
		}
		if err := json.Unmarshal(m.Value, &al); err != nil {
			t.Fatal(err)
		}
		if al.Source.Topic == "auth" {
			// The syslog header and the extraction became fields of the event.
			if al.Event["appname"] != "sshd" || al.Event["hostname"] != "web-1" || al.Event["user"] != "admin" ||
				!strings.HasPrefix(fmt.Sprint(al.Event["timestamp"]), "20") || al.Event["src_ip"] == nil {
				t.Errorf("syslog event fields: %v", al.Event)
			}
		}
		if len(al.Entities.IP) != 1 || al.Entities.IP[0] != al.Event["src_ip"] {
			t.Errorf("entities.ip %v, event src_ip %v", al.Entities.IP, al.Event["src_ip"])
		}
		ips[al.Entities.IP[0]] = true
	}
	if len(ips) != want {
		t.Errorf("distinct source addresses %v", ips)
	}
	for _, m := range ocsf {
		var f map[string]any
		if err := json.Unmarshal(m.Value, &f); err != nil || f["class_uid"] != float64(2004) || headers(m)["vigil-format"] != "ocsf" {
			t.Errorf("OCSF alert %s %v", m.Value, err)
		}
	}
	lines := fileLines(ecsFile)
	if len(lines) != want {
		t.Errorf("ECS file holds %d alerts", len(lines))
	}
	for _, l := range lines {
		var d map[string]any
		if err := json.Unmarshal([]byte(l), &d); err != nil || d["event"].(map[string]any)["kind"] != "alert" {
			t.Errorf("ECS line %s", l)
		}
	}
	hooked := h.alerts(t)
	if len(hooked) != want || hooked[0]["class_uid"] != float64(2004) {
		t.Errorf("webhook got %d alerts: %v", len(hooked), hooked)
	}
	for _, a := range h.auth {
		if a != "Bearer tok application/json" {
			t.Errorf("webhook request headers %q", a)
		}
	}
	if len(dead) != 1 || string(dead[0].Value) != "this is not syslog" {
		t.Fatalf("dead letter: %v", dead)
	}
	if dh := headers(dead[0]); dh["vigil-error-reason"] != "invalid_syslog" || dh["origin"] != "test" || dh["vigil-source-topic"] != "auth" {
		t.Errorf("dead-letter headers %v", dh)
	}
	if v := a.Metrics.Rejected.WithLabelValues("invalid_syslog"); testutilValue(v) != 1 {
		t.Errorf("vigil_events_rejected_total{reason=invalid_syslog} = %v", testutilValue(v))
	}
}

// TestStartOffsetByTime: a new group with a start time skips older records; once it committed,
// the start time no longer applies.
func TestStartOffsetByTime(t *testing.T) {
	b, err := broker.Start(broker.Options{Topics: []string{"events", "vigil-alerts"}, Partitions: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	cfg := config.Default()
	cfg.Rules = []string{sshRules}
	cfg.Kafka.Brokers = []string{b.Addr}
	cfg.Kafka.DeadLetterTopic = ""
	cfg.Metrics.Addr = "127.0.0.1:0"
	start := time.Now().Add(-time.Hour).UTC().Truncate(time.Millisecond)
	cfg.Kafka.StartOffset = start.Format(time.RFC3339Nano)
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	kc, err := KafkaConfig(cfg, quietLog())
	if err != nil {
		t.Fatal(err)
	}
	var msgs []kafka.Message
	for i := 0; i < 8; i++ {
		at := start.Add(-time.Duration(8-i) * time.Minute) // before the start time
		if i >= 5 {
			at = start.Add(time.Duration(i) * time.Second) // at or after it
		}
		msgs = append(msgs, kafka.Message{Value: sshdEvent(i), Time: at})
	}
	if err := produceWith(kc, "events", msgs...); err != nil {
		t.Fatal(err)
	}
	run := func(group string, records int64) []string {
		c := *cfg
		c.Kafka.Group = group
		a := &Agent{Config: &c, Log: quietLog()}
		if err := a.Start(); err != nil {
			a.Close()
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- a.Run(ctx) }()
		deadline := time.Now().Add(20 * time.Second)
		for a.Runner().Stats().Records.Load() < records {
			if time.Now().After(deadline) {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		time.Sleep(300 * time.Millisecond) // anything older would have arrived by now
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		var ips []string
		for _, m := range readWith(t, kc, "vigil-alerts", 2, 100, 2*time.Second) {
			var al struct{ Entities struct{ IP []string } }
			json.Unmarshal(m.Value, &al)
			ips = append(ips, al.Entities.IP...)
		}
		return ips
	}
	ips := run("by-time", 3)
	if len(ips) != 3 {
		t.Fatalf("the group processed %d records (%v), want the 3 at or after the start time", len(ips), ips)
	}
	for _, ip := range ips {
		if ip != "203.0.113.5" && ip != "203.0.113.6" && ip != "203.0.113.7" {
			t.Errorf("record from before the start time processed: %s", ip)
		}
	}
	// The group has committed offsets now: the start time is not applied again.
	if err := produceWith(kc, "events", kafka.Message{Value: sshdEvent(9), Time: start.Add(-time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if ips := run("by-time", 1); len(ips) != 4 {
		t.Errorf("after restart: %d alerts in the topic, want 4 (the old-stamped new record is read)", len(ips))
	}
}
