package demo

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/vigil-detect/vigil/alert"
	"github.com/vigil-detect/vigil/respond"
)

func TestConsolePrintsDecisionsUnderTheirAlert(t *testing.T) {
	var out bytes.Buffer
	c := NewConsole(&out)
	a1 := &alert.Alert{ID: "a1", Time: time.Now(), Kind: alert.KindDetection, Rule: alert.Rule{Title: "First", Level: "high"}}
	a2 := &alert.Alert{ID: "a2", Time: time.Now(), Kind: alert.KindDetection, Rule: alert.Rule{Title: "Second", Level: "low"}}
	c.Decision(respond.Decision{AlertID: "a2", Outcome: respond.OutcomeDryRun, Action: "block_ip", Target: "198.51.100.23", Playbook: "p"})
	c.Decision(respond.Decision{AlertID: "a1", Outcome: respond.OutcomeSkipped, Reason: respond.ReasonAllowlisted, Action: "block_ip", Target: "198.51.100.7"})
	c.Decision(respond.Decision{AlertID: "a1", Outcome: respond.OutcomeSkipped, Reason: respond.ReasonCooldown, Action: "block_ip", Target: "x"})
	c.Decision(respond.Decision{AlertID: "a1", Outcome: respond.OutcomeQueued, Action: "notify"})
	if out.Len() != 0 {
		t.Fatalf("printed before the alert: %q", out.String())
	}
	c.Write(context.Background(), []*alert.Alert{a1, a2})
	c.Decision(respond.Decision{AlertID: "a1", Outcome: respond.OutcomeExecuted, Action: "notify", Result: "HTTP 200"})
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	want := []string{"First", "↳ not block_ip 198.51.100.7: allowlisted", "Second", "↳ would block_ip 198.51.100.23  (dry run, playbook p)", "↳ notify for the alert: executed (HTTP 200)"}
	if len(lines) != len(want) {
		t.Fatalf("lines:\n%s", out.String())
	}
	for i, w := range want {
		if !strings.Contains(lines[i], w) {
			t.Errorf("line %d %q lacks %q", i, lines[i], w)
		}
	}
}
