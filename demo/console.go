package demo

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"

	"github.com/vigil-detect/vigil/alert"
)

// Console prints alerts for a person watching: one line each, the most telling facts first.
type Console struct {
	mu sync.Mutex
	w  io.Writer
}

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
	}
	return nil
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
			facts = append(facts, fmt.Sprintf("%s: %d distinct values in %s", c.Type, len(c.Values), c.Last.Sub(c.First).Round(1e7)))
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
