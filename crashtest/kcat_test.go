package crashtest

import (
	"bytes"
	"encoding/json"
	"github.com/vigil-detect/vigil/internal/kafkatest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestKcatInterop checks Vigil against an independent Kafka client: kcat (librdkafka) produces
// the generated attack story, with malformed records, into `vigil broker`; `vigil run` consumes
// it; kcat reads the alerts and the dead-letter records back.
func TestKcatInterop(t *testing.T) {
	if testing.Short() {
		t.Skip("skipped with -short")
	}
	kcat, err := exec.LookPath("kcat")
	if err != nil {
		t.Skip("kcat is not installed (Debian package kcat; .ci/run installs it): skipping the interoperability test")
	}
	bin := vigilBinary(t)
	addr := kafkatest.FreeAddr(t)
	br := startChild(t, bin, "broker", "--addr", addr, "--topics", strings.Join([]string{eventsTopic, alertsTopic, deadTopic}, ","),
		"--partitions", strconv.Itoa(partitions))
	br.waitOutput(t, "broker listening", 30*time.Second)

	rulesDir := detectionRules(t)
	events, bad := chunk(0, 3000, 3)
	expected := expectedAlerts(t, rulesDir, events)
	input := filepath.Join(t.TempDir(), "events.ndjson")
	var buf bytes.Buffer
	for _, e := range events {
		buf.Write(e)
		buf.WriteByte('\n')
	}
	if err := os.WriteFile(input, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(kcat, "-P", "-b", addr, "-t", eventsTopic, "-l", input).CombinedOutput()
	if err != nil {
		t.Fatalf("kcat -P: %v\n%s", err, out)
	}

	ag := startChild(t, bin, "run", "--config", agentConfig(t, addr, rulesDir, "kcat"))
	ag.waitOutput(t, "consuming", 30*time.Second)
	waitCommitted(t, addr, "kcat", eventsTopic, 60*time.Second, ag.output)
	if err := ag.stop(t, os.Interrupt, 30*time.Second); err != nil {
		t.Fatalf("vigil run: %v\n%s", err, tail(ag.output(), 4000))
	}

	out, err = exec.Command(kcat, "-C", "-b", addr, "-t", alertsTopic, "-o", "beginning", "-e", "-q", "-f", "%k\t%s\n").Output()
	if err != nil {
		t.Fatalf("kcat -C %s: %v", alertsTopic, err)
	}
	got := map[string]bool{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		key, value, _ := strings.Cut(line, "\t")
		var a struct{ ID string }
		if err := json.Unmarshal([]byte(value), &a); err != nil {
			t.Fatalf("alert read by kcat is not JSON: %v: %.200s", err, value)
		}
		if key != a.ID {
			t.Errorf("alert key %q, id %q", key, a.ID)
		}
		if !expected[a.ID] {
			t.Errorf("unexpected alert %.200s", value)
		}
		got[a.ID] = true
	}
	for id := range expected {
		if !got[id] {
			t.Errorf("expected alert %s not read back by kcat", id)
		}
	}

	out, err = exec.Command(kcat, "-C", "-b", addr, "-t", deadTopic, "-o", "beginning", "-e", "-q", "-f", "%h\n").Output()
	if err != nil {
		t.Fatalf("kcat -C %s: %v", deadTopic, err)
	}
	reasons := map[string]int{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		for _, h := range strings.Split(line, ",") {
			if r, ok := strings.CutPrefix(h, "vigil-error-reason="); ok {
				reasons[r]++
			}
		}
	}
	for _, b := range bad {
		if reasons[b.reason] == 0 {
			t.Errorf("no dead-letter record with reason %s read back by kcat (got %v)", b.reason, reasons)
		}
	}
	t.Logf("kcat produced %d records; read back %d alerts (%d expected) and dead-letter reasons %v", len(events), len(got), len(expected), reasons)
}
