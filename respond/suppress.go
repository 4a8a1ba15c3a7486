package respond

import (
	"container/heap"
	"sort"
	"strings"
	"time"

	"github.com/vigil-detect/vigil/alert"
)

// deduper merges identical alerts (same kind, rule, correlation group and key entities) that
// fall within a window of event time after the first:
//
//   - the first alert is passed on at once, unchanged;
//   - later identical alerts inside the window are withheld (not written, no risk, no actions);
//   - when the window has closed (the watermark passed first + window), or the entry is evicted
//     to bound memory, or the pipeline stops, one summary alert is emitted if anything was
//     withheld: a copy of the last withheld alert with count = all occurrences in the window
//     (the first included) and its own id.
type deduper struct {
	window  time.Duration
	key     []string
	rules   map[string]suppressRule
	max     int
	entries map[string]*dedupEntry
	byEnd   dedupHeap
}

type suppressRule struct {
	window time.Duration
	key    []string
}

type dedupEntry struct {
	key     string
	firstID string
	end     time.Time
	count   int
	last    *alert.Alert
	index   int
}

func newDeduper(c *Suppress) *deduper {
	d := &deduper{window: c.Window.D(), key: c.Key, rules: map[string]suppressRule{}, max: c.MaxEntries, entries: map[string]*dedupEntry{}}
	if len(d.key) == 0 {
		d.key = []string{TargetUser, TargetHost, TargetIP}
	}
	if d.max <= 0 {
		d.max = 10000
	}
	for name, r := range c.Rules {
		sr := suppressRule{window: d.window, key: d.key}
		if r.Window != nil {
			sr.window = r.Window.D()
		}
		if len(r.Key) > 0 {
			sr.key = r.Key
		}
		d.rules[strings.ToLower(name)] = sr
	}
	return d
}

func (d *deduper) ruleFor(a *alert.Alert) suppressRule {
	if r, ok := ruleValue(d.rules, &a.Rule); ok {
		return r
	}
	return suppressRule{window: d.window, key: d.key}
}

func identity(a *alert.Alert, key []string) string {
	var b strings.Builder
	b.WriteString(a.Kind)
	b.WriteByte(0)
	switch {
	case a.Rule.ID != "":
		b.WriteString(a.Rule.ID)
	case a.Rule.Name != "":
		b.WriteString(a.Rule.Name)
	default:
		b.WriteString(a.Rule.Title)
	}
	if len(a.Group) > 0 {
		keys := make([]string, 0, len(a.Group))
		for k := range a.Group {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			b.WriteString("\x00g:" + k + "=" + a.Group[k])
		}
	}
	for _, t := range key {
		var vals []string
		switch t {
		case TargetUser:
			vals = a.Entities.User
		case TargetHost:
			vals = a.Entities.Host
		case TargetIP:
			vals = a.Entities.IP
		}
		b.WriteString("\x00" + t + ":" + strings.Join(vals, ","))
	}
	return b.String()
}

// check reports whether a duplicates an open window (and counts it), opening a window for it
// otherwise. Evicted windows' summaries are appended to out.
func (d *deduper) check(a *alert.Alert, out *[]*alert.Alert) bool {
	if a.Kind == alert.KindRisk {
		return false
	}
	r := d.ruleFor(a)
	if r.window <= 0 {
		return false
	}
	k := identity(a, r.key)
	if e, ok := d.entries[k]; ok && a.Time.Before(e.end) {
		e.count++
		e.last = a
		return true
	} else if ok {
		// The window is over but not yet expired by the watermark (out-of-order input).
		d.remove(e, out)
	}
	for len(d.entries) >= d.max {
		d.remove(d.byEnd[0], out)
	}
	e := &dedupEntry{key: k, firstID: a.ID, end: a.Time.Add(r.window), count: 1}
	d.entries[k] = e
	heap.Push(&d.byEnd, e)
	return false
}

func (d *deduper) remove(e *dedupEntry, out *[]*alert.Alert) {
	heap.Remove(&d.byEnd, e.index)
	delete(d.entries, e.key)
	if e.count > 1 {
		*out = append(*out, summary(e))
	}
}

// summary is the alert reporting a closed window's merged duplicates.
func summary(e *dedupEntry) *alert.Alert {
	s := *e.last
	s.ID = alert.ID([]byte("merged"), []byte(e.firstID), []byte(e.last.ID))
	s.Count = e.count
	s.Suppressed = false
	return &s
}

// expire closes the windows that ended at or before the watermark.
func (d *deduper) expire(watermark time.Time, out *[]*alert.Alert) {
	for len(d.byEnd) > 0 && !d.byEnd[0].end.After(watermark) {
		d.remove(d.byEnd[0], out)
	}
}

// flush closes every window.
func (d *deduper) flush(out *[]*alert.Alert) {
	for len(d.byEnd) > 0 {
		d.remove(d.byEnd[0], out)
	}
}

type dedupHeap []*dedupEntry

func (h dedupHeap) Len() int           { return len(h) }
func (h dedupHeap) Less(i, j int) bool { return h[i].end.Before(h[j].end) }
func (h dedupHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index, h[j].index = i, j
}
func (h *dedupHeap) Push(x any) {
	e := x.(*dedupEntry)
	e.index = len(*h)
	*h = append(*h, e)
}
func (h *dedupHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	return e
}
