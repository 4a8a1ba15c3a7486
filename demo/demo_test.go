package demo

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/vigil-detect/vigil/internal/syncbuf"
)

// TestDemoShowsAlertsAndServesMetrics runs the demo for a few seconds: the attack story must
// produce alerts on the console, /metrics must serve vigil_ series meanwhile, and the run must
// end cleanly.
func TestDemoShowsAlertsAndServesMetrics(t *testing.T) {
	var out syncbuf.Buffer // the console, written by the demo while the test reads it
	ctx, cancel := context.WithTimeout(context.Background(), 9*time.Second)
	defer cancel()
	type result struct {
		res *Result
		err error
	}
	done := make(chan result, 1)
	started := make(chan string, 1)
	go func() {
		r, err := RunResult(ctx, Options{MetricsAddr: "127.0.0.1:0", Rate: 400, AttackAt: 500 * time.Millisecond, Out: &out, Log: io.Discard, Quiet: true, started: started})
		done <- result{r, err}
	}()
	var addr string
	select {
	case addr = <-started:
	case <-time.After(10 * time.Second):
		t.Fatal("demo did not start")
	}
	var metrics string
	for i := 0; i < 50 && !strings.Contains(metrics, "vigil_rule_matches_total{"); i++ {
		time.Sleep(200 * time.Millisecond)
		resp, err := http.Get("http://" + addr + "/metrics")
		if err != nil {
			continue
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		metrics = string(body)
	}
	if !strings.Contains(metrics, "vigil_events_total") || !strings.Contains(metrics, "vigil_rule_matches_total{") {
		t.Errorf("metrics lack vigil_ series:\n%.2000s", metrics)
	}
	r := <-done
	if r.err != nil {
		t.Fatalf("demo: %v", r.err)
	}
	text := out.String()
	for _, want := range []string{"Vigil demo:", "Shadow Copies Deleted Via Vssadmin.EXE", "Demo finished:",
		"↳ would block_ip 198.51.100.23  (dry run, playbook contain-external-access)",
		"↳ would isolate_host NW-WS101.northwind.local  (dry run, playbook credential-theft)",
		// Every starter correlation fires on the story.
		"Password Spray From An External Address", "Brute Force Of One Account From An External Address",
		"Brute Force Followed By A Successful RDP Logon", "Discovery Burst On One Host"} {
		if !strings.Contains(text, want) {
			t.Errorf("console output lacks %q:\n%s", want, text)
		}
	}
	if r.res.Alerts == 0 || r.res.Events == 0 || r.res.Rejected != 1 {
		t.Errorf("result %+v", r.res)
	}
}
