package crashtest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/vigil-detect/vigil/agent"
	"github.com/vigil-detect/vigil/bench/gen"
	"github.com/vigil-detect/vigil/config"
	"github.com/vigil-detect/vigil/internal/kafkatest"
	"github.com/vigil-detect/vigil/internal/syncbuf"
	"github.com/vigil-detect/vigil/rules"
)

const (
	eventsTopic = "events"
	alertsTopic = "vigil-alerts"
	deadTopic   = "vigil-dead-letter"
	partitions  = 3
	maxEvent    = 64 << 10 // pipeline.max_event_bytes in these tests
)

var buildOnce struct {
	sync.Once
	path string
	err  error
	dir  string
}

// vigilBinary builds cmd/vigil once per test binary run.
func vigilBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "vigil-crashtest-")
		if err != nil {
			buildOnce.err = err
			return
		}
		buildOnce.dir = dir
		goTool, err := exec.LookPath("go")
		if err != nil {
			goTool = filepath.Join(runtime.GOROOT(), "bin", "go")
		}
		bin := filepath.Join(dir, "vigil")
		cmd := exec.Command(goTool, "build", "-o", bin, "./cmd/vigil")
		cmd.Dir = ".."
		out, err := cmd.CombinedOutput()
		if err != nil {
			buildOnce.err = fmt.Errorf("go build: %v\n%s", err, out)
			return
		}
		buildOnce.path = bin
	})
	if buildOnce.err != nil {
		t.Fatal(buildOnce.err)
	}
	return buildOnce.path
}

func TestMain(m *testing.M) {
	code := m.Run()
	if buildOnce.dir != "" {
		os.RemoveAll(buildOnce.dir)
	}
	os.Exit(code)
}

// detectionRules writes the starter detection rules (not the correlations, whose alerts depend
// on how events from different partitions interleave) to a directory.
func detectionRules(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	err := fs.WalkDir(rules.Starter(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".yml") || strings.Contains(p, "correlation") {
			return err
		}
		data, err := fs.ReadFile(rules.Starter(), p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dir, filepath.Base(p)), data, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

// badRecord is a malformed record and the dead-letter reason it must get.
type badRecord struct {
	value  []byte
	reason string
}

// badRecords returns malformed records, each unique to tag, covering every dead-letter reason.
// The bad_timestamp and unexpected_type ones also match a starter rule: they must be evaluated
// (alerted) as well as dead-lettered.
func badRecords(tag int) []badRecord {
	deep := strings.Repeat(`{"a":`, 100) + `1` + strings.Repeat(`}`, 100)
	large := `{"tag":` + strconv.Itoa(tag) + `,"pad":"` + strings.Repeat("x", maxEvent) + `"}`
	return []badRecord{
		{[]byte(fmt.Sprintf(`{"tag":%d, broken`, tag)), "invalid_json"},
		{[]byte(fmt.Sprintf(`["tag",%d]`, tag)), "not_object"},
		{[]byte(fmt.Sprintf("{\"tag\":%d,\"s\":\"\xff\xfe\"}", tag)), "invalid_utf8"},
		{[]byte(fmt.Sprintf(`{"tag":%d,"d":%s}`, tag, deep)), "too_deep"},
		{[]byte(large), "too_large"},
		{[]byte(fmt.Sprintf(`{"tag":%d,"EventID":1,"Channel":"Microsoft-Windows-Sysmon/Operational",`+
			`"TimeCreated_SystemTime":"the day after tomorrow","Image":"C:\\Windows\\System32\\whoami.exe",`+
			`"CommandLine":"whoami /all","User":"NORTHWIND\\mallory"}`, tag)), "bad_timestamp"},
		{[]byte(fmt.Sprintf(`{"tag":%d,"EventID":1,"Channel":"Microsoft-Windows-Sysmon/Operational",`+
			`"TimeCreated_SystemTime":"2026-01-01T00:00:00Z","Image":"C:\\Windows\\System32\\whoami.exe",`+
			`"CommandLine":"whoami /all","ParentImage":{"path":"C:\\Windows\\System32\\cmd.exe"}}`, tag)), "unexpected_type"},
	}
}

// chunk returns n generated events with an attack story, unique to i (its own event time), and
// the malformed records of tag i mixed in.
func chunk(i, n int, seed int64) ([][]byte, []badRecord) {
	g := gen.New(gen.Options{Seed: seed + int64(i), Rate: 200, AttackAt: 100 * time.Millisecond,
		Start: gen.DefaultStart.Add(time.Duration(i) * time.Hour)})
	var out [][]byte
	bad := badRecords(i)
	for j := 0; j < n; j++ {
		out = append(out, g.Next(nil))
		if k := j * len(bad) / n; j%(n/len(bad)) == 0 && k < len(bad) {
			out = append(out, bad[k].value)
		}
	}
	return out, bad
}

// expectedAlerts runs agent.Eval over the events with the rules and returns the alert ids.
func expectedAlerts(t *testing.T, rulesDir string, events [][]byte) map[string]bool {
	t.Helper()
	cfg := config.Default()
	cfg.Rules = []string{rulesDir}
	cfg.Pipeline.MaxEventBytes = maxEvent
	var in bytes.Buffer
	for _, e := range events {
		in.Write(e)
		in.WriteByte('\n')
	}
	var out bytes.Buffer
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if _, err := agent.Eval(context.Background(), cfg, []string{"-"}, &in, &out, log); err != nil {
		t.Fatal(err)
	}
	ids := map[string]bool{}
	dec := json.NewDecoder(&out)
	for {
		var a struct{ ID string }
		if err := dec.Decode(&a); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		ids[a.ID] = true
	}
	return ids
}

// agentConfig writes a `vigil run` configuration for a broker and returns its path.
func agentConfig(t *testing.T, brokerAddr, rulesDir, group string) string {
	t.Helper()
	cfg := fmt.Sprintf(`rules: [%q]
kafka:
  brokers: [%q]
  group: %s
  topics: [%s]
  alerts_topic: %s
  dead_letter_topic: %s
  heartbeat_interval: 500ms
  session_timeout: 3s
  rebalance_timeout: 3s
pipeline:
  max_event_bytes: %d
metrics:
  addr: 127.0.0.1:0
reload:
  watch: false
log:
  level: info
`, rulesDir, brokerAddr, group, eventsTopic, alertsTopic, deadTopic, maxEvent)
	p := filepath.Join(t.TempDir(), "vigil.yaml")
	if err := os.WriteFile(p, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// child is a running vigil process.
type child struct {
	cmd  *exec.Cmd
	done chan struct{} // closed when the process exited; err is then set
	err  error
	log  syncbuf.Buffer // stdout and stderr
}

func startChild(t *testing.T, bin string, args ...string) *child {
	t.Helper()
	c := &child{cmd: exec.Command(bin, args...), done: make(chan struct{})}
	c.cmd.Stdout, c.cmd.Stderr = &c.log, &c.log
	if err := c.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		c.err = c.cmd.Wait()
		close(c.done)
	}()
	t.Cleanup(func() {
		select {
		case <-c.done:
		default:
			c.cmd.Process.Kill()
			<-c.done
		}
	})
	return c
}

func (c *child) output() string { return c.log.String() }

// stop sends sig and waits for the exit (at most within).
func (c *child) stop(t *testing.T, sig os.Signal, within time.Duration) error {
	t.Helper()
	c.cmd.Process.Signal(sig)
	select {
	case <-c.done:
		return c.err
	case <-time.After(within):
		c.cmd.Process.Kill()
		t.Fatalf("vigil did not exit within %v after %v; output:\n%s", within, sig, tail(c.output(), 4000))
		return nil
	}
}

// waitOutput waits until the child printed want.
func (c *child) waitOutput(t *testing.T, want string, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !strings.Contains(c.output(), want) {
		if time.Now().After(deadline) {
			t.Fatalf("vigil did not print %q within %v; output:\n%s", want, within, tail(c.output(), 4000))
		}
		select {
		case <-c.done:
			t.Fatalf("vigil exited (%v) before printing %q; output:\n%s", c.err, want, tail(c.output(), 4000))
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func tail(s string, n int) string {
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}

// waitCommitted waits until the group committed every record of topic.
func waitCommitted(t *testing.T, addr, group, topic string, within time.Duration, logs func() string) {
	t.Helper()
	ends := kafkatest.EndOffsets(t, addr, topic, partitions)
	deadline := time.Now().Add(within)
	var got map[int]int64
	for time.Now().Before(deadline) {
		var err error
		got, err = kafkatest.Committed(addr, group, topic, partitions)
		if err == nil && kafkatest.AllCommitted(got, ends) {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("committed offsets %v, want %v after %v; agent output:\n%s", got, ends, within, tail(logs(), 6000))
}

// checkAlerts compares the alerts topic with the expected ids: every expected id present, none
// unexpected, duplicates (from replays after a crash) byte-identical. It returns the number of
// records and of duplicates.
func checkAlerts(t *testing.T, msgs []kafka.Message, expected map[string]bool) (records, dups int) {
	t.Helper()
	seen := map[string][]byte{}
	for _, m := range msgs {
		var a struct{ ID string }
		if err := json.Unmarshal(m.Value, &a); err != nil {
			t.Fatalf("alert is not JSON: %v: %.200s", err, m.Value)
		}
		if string(m.Key) != a.ID {
			t.Errorf("alert key %q, id %q", m.Key, a.ID)
		}
		if !expected[a.ID] {
			t.Errorf("unexpected alert %.300s", m.Value)
		}
		if prev, ok := seen[a.ID]; ok {
			dups++
			if !bytes.Equal(prev, m.Value) {
				t.Errorf("alert %s written twice with different content:\n%s\n%s", a.ID, prev, m.Value)
			}
		}
		seen[a.ID] = m.Value
	}
	missing := 0
	for id := range expected {
		if _, ok := seen[id]; !ok {
			missing++
			if missing <= 5 {
				t.Errorf("expected alert %s is missing", id)
			}
		}
	}
	if missing > 0 {
		t.Errorf("%d of %d expected alerts missing", missing, len(expected))
	}
	return len(msgs), dups
}

// checkDeadLetters checks that every bad record reached the dead-letter topic with its reason,
// and that nothing else did. It returns the number of dead-letter records.
func checkDeadLetters(t *testing.T, msgs []kafka.Message, bad []badRecord) int {
	t.Helper()
	want := map[string]string{}
	for _, b := range bad {
		want[string(b.value)] = b.reason
	}
	got := map[string]bool{}
	for _, m := range msgs {
		reason, ok := want[string(m.Value)]
		if !ok {
			t.Errorf("unexpected dead-letter record (reason %s): %.200q", kafkatest.Header(m, "vigil-error-reason"), m.Value)
			continue
		}
		if r := kafkatest.Header(m, "vigil-error-reason"); r != reason {
			t.Errorf("dead-letter reason %q, want %q for %.100q", r, reason, m.Value)
		}
		if kafkatest.Header(m, "vigil-source-topic") != eventsTopic || kafkatest.Header(m, "vigil-source-offset") == "" {
			t.Errorf("dead-letter record lacks its source headers: %v", m.Headers)
		}
		evaluated := reason == "bad_timestamp" || reason == "unexpected_type"
		if (kafkatest.Header(m, "vigil-evaluated") == "true") != evaluated {
			t.Errorf("dead-letter record %s: vigil-evaluated header %q", reason, kafkatest.Header(m, "vigil-evaluated"))
		}
		got[string(m.Value)] = true
	}
	for v, reason := range want {
		if !got[v] {
			t.Errorf("bad record (%s) never reached the dead-letter topic: %.100q", reason, v)
		}
	}
	return len(msgs)
}

func envInt(name string, def int64) int64 {
	if v, err := strconv.ParseInt(os.Getenv(name), 10, 64); err == nil {
		return v
	}
	return def
}
