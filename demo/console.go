package demo

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"

	"github.com/vigil-detect/vigil/alert"
	"github.com/vigil-detect/vigil/respond"
)

// Console prints alerts for a person watching: one line each, the most telling facts first,
// with the response decisions about each alert on the lines under it.
type Console struct {
	mu      sync.Mutex
	w       io.Writer
	pending []respond.Decision // decided before their alert was written
}

// maxPending bounds decisions waiting for their alert's line.
const maxPending = 1000

// NewConsole writes to w.
func NewConsole(w io.Writer) *Console { return &Console{w: w} }

// Write prints the alerts.
func (c *Console) Write(_ context.Context, alerts []*alert.Alert) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, a := range alerts {
		if _, err := fmt.Fprintln(c.w, FormatAlert(a)); err != nil {
			return err
		}
		rest := c.pending[:0]
		for _, d := range c.pending {
			if d.AlertID == a.ID {
				fmt.Fprintln(c.w, FormatDecision(d))
			} else {
				rest = append(rest, d)
			}
		}
		c.pending = rest
	}
	// Decisions whose alert went to no line of this batch (a merged duplicate's, say).
	for _, d := range c.pending {
		fmt.Fprintln(c.w, FormatDecision(d))
	}
	c.pending = c.pending[:0]
	return nil
}

// Decision hears a response decision. What is decided while an alert is processed (dry run,
// skipped, waiting for approval) is printed under the alert once it is written; what happens
// later (executed, failed, approved, reverted) is printed when it happens. Cooldown skips and
// hand-overs to the workers are not shown: they are in the audit log.
func (c *Console) Decision(d respond.Decision) {
	if d.Outcome == respond.OutcomeQueued || d.Outcome == respond.OutcomeSkipped && d.Reason == respond.ReasonCooldown {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	switch d.Outcome {
	case respond.OutcomeDryRun, respond.OutcomeSkipped, respond.OutcomePending:
		if len(c.pending) < maxPending {
			c.pending = append(c.pending, d)
			return
		}
	}
	fmt.Fprintln(c.w, FormatDecision(d))
}

// FormatDecision renders a decision as an indented console line.
func FormatDecision(d respond.Decision) string {
	target := d.Target
	if target == "" {
		target = "for the alert"
	}
	var b strings.Builder
	b.WriteString("          ↳ ")
	switch d.Outcome {
	case respond.OutcomeDryRun:
		fmt.Fprintf(&b, "would %s %s", d.Action, target)
		if d.Approval {
			b.WriteString(" after approval")
		}
		fmt.Fprintf(&b, "  (dry run, playbook %s)", d.Playbook)
	case respond.OutcomeSkipped:
		fmt.Fprintf(&b, "not %s %s: %s", d.Action, target, strings.ReplaceAll(d.Reason, "_", " "))
	case respond.OutcomePending:
		fmt.Fprintf(&b, "%s %s waits for approval until %s (decision %s)", d.Action, target, d.Expires.Local().Format("15:04:05"), d.ID)
	default:
		fmt.Fprintf(&b, "%s %s: %s", d.Action, target, strings.ReplaceAll(d.Outcome, "_", " "))
		var more []string
		if d.Reason != "" {
			more = append(more, strings.ReplaceAll(d.Reason, "_", " "))
		}
		if d.Result != "" {
			more = append(more, d.Result)
		}
		if d.Error != "" && d.Result == "" {
			more = append(more, d.Error)
		}
		if d.By != "" {
			more = append(more, "by "+d.By)
		}
		if len(more) > 0 {
			b.WriteString(" (" + strings.Join(more, ", ") + ")")
		}
	}
	return b.String()
}

// Close does nothing.
func (c *Console) Close() error { return nil }

// FormatAlert renders one alert as a console line.
func FormatAlert(a *alert.Alert) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s  %-8s %3d  %s", a.Time.Local().Format("15:04:05"), strings.ToUpper(levelOr(a.Rule.Level)), a.Score, a.Rule.Title)
	var facts []string
	if a.Kind == alert.KindCorrelation && a.Correlation != nil {
		c := a.Correlation
		switch {
		case len(c.Values) > 0:
			facts = append(facts, fmt.Sprintf("%s: %d distinct values in %s", c.Type, max(c.Count, len(c.Values)), c.Last.Sub(c.First).Round(1e7)))
		case strings.HasPrefix(c.Type, "value_"):
			facts = append(facts, fmt.Sprintf("%s: %g over %d events in %s", c.Type, c.Value, c.Count, c.Last.Sub(c.First).Round(1e7)))
		default:
			facts = append(facts, fmt.Sprintf("%s: %d events in %s", c.Type, c.Count, c.Last.Sub(c.First).Round(1e7)))
		}
		keys := make([]string, 0, len(a.Group))
		for k := range a.Group {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			facts = append(facts, k+"="+a.Group[k])
		}
	} else {
		add := func(kind string, vals []string) {
			if len(vals) > 0 {
				facts = append(facts, kind+"="+strings.Join(vals, ","))
			}
		}
		add("host", a.Entities.Host)
		add("user", a.Entities.User)
		add("ip", a.Entities.IP)
	}
	if a.Kind == alert.KindRisk && a.Correlation != nil {
		facts = facts[:0]
		for k, v := range a.Group {
			facts = append(facts, fmt.Sprintf("%s=%s  risk %.0f from %d alerts", k, v, a.Correlation.Value, a.Correlation.Count))
		}
	}
	if a.Count > 1 {
		facts = append(facts, fmt.Sprintf("x%d", a.Count))
	}
	if len(facts) > 0 {
		b.WriteString("  [" + strings.Join(facts, "  ") + "]")
	}
	return b.String()
}

func levelOr(l string) string {
	if l == "" {
		return "-"
	}
	return l
}
