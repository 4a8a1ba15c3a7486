package bench

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestHistQuantiles(t *testing.T) {
	var h hist
	if h.quantile(0.5) != 0 || h.mean() != 0 {
		t.Fatal("empty histogram reports a latency")
	}
	// 1..1000 µs, once each: p50 = 500 µs, p99 = 990 µs, mean 500.5 µs.
	for i := 1; i <= 1000; i++ {
		h.add(time.Duration(i) * time.Microsecond)
	}
	for _, c := range []struct {
		q    float64
		want time.Duration
	}{{0.5, 500 * time.Microsecond}, {0.99, 990 * time.Microsecond}, {1, 1000 * time.Microsecond}} {
		got := h.quantile(c.q)
		if d := float64(got-c.want) / float64(c.want); d < -0.07 || d > 0.07 {
			t.Errorf("q%.2f = %v, want %v within 7%%", c.q, got, c.want)
		}
	}
	if h.mean() != 500500*time.Nanosecond {
		t.Errorf("mean %v", h.mean())
	}
	var small hist
	for _, ns := range []int64{0, 3, 3, 15} {
		small.add(time.Duration(ns))
	}
	if small.quantile(0.5) != 3 || small.quantile(1) != 15 {
		t.Errorf("small values: p50 %v, max %v", small.quantile(0.5), small.quantile(1))
	}
	var merged hist
	merged.merge(&h)
	merged.merge(&small)
	if merged.n != 1004 || merged.quantile(1) != h.quantile(1) {
		t.Errorf("merge: n %d, max %v", merged.n, merged.quantile(1))
	}
}

func TestBucketsAreOrderedAndTight(t *testing.T) {
	prev := -1
	for ns := int64(0); ns < 1<<22; ns = ns*17/16 + 1 {
		b := bucketOf(ns)
		if b < prev {
			t.Fatalf("bucket of %d is %d, below %d", ns, b, prev)
		}
		prev = b
		if mid := bucketMid(b); ns >= 16 && (float64(mid) < float64(ns)*0.93 || float64(mid) > float64(ns)*1.07) {
			t.Fatalf("%d ns falls in bucket %d with middle %d", ns, b, mid)
		}
	}
}

func TestReadLane(t *testing.T) {
	dir := t.TempDir()
	long := `{"k":"` + strings.Repeat("x", 3<<20) + `"}`
	path := filepath.Join(dir, "win.ndjson")
	content := "{\"a\":1}\r\n\n   \n" + long + "\n{\"b\":2}" // no final newline
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	l, err := readLane(path)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{`{"a":1}`, long, `{"b":2}`}
	if l.len() != len(want) || l.name != "win" || l.source != path || l.hitRate >= 0 {
		t.Fatalf("lane %q from %q: %d events, hit rate %v", l.name, l.source, l.len(), l.hitRate)
	}
	for i, w := range want {
		if string(l.event(i)) != w {
			t.Errorf("event %d is %.40q, want %.40q", i, l.event(i), w)
		}
	}
	empty := filepath.Join(dir, "empty.ndjson")
	os.WriteFile(empty, []byte("\n\n"), 0o644)
	if _, err := readLane(empty); err == nil || !strings.Contains(err.Error(), "no events") {
		t.Errorf("empty file: %v", err)
	}
	if _, err := readLane(filepath.Join(dir, "missing")); err == nil {
		t.Error("missing file read")
	}
}

// TestLanesHoldTheirKinds checks each generated lane is valid JSON of its kind, the same for
// the same seed, and that the mixed lane has every kind.
func TestLanesHoldTheirKinds(t *testing.T) {
	marks := map[string][]string{
		"process":       {`"EventID":1,`},
		"file-registry": {`"EventID":11,`, `"EventID":13,`},
		"logon":         {`"EventID":4624,`, `"EventID":4625,`, `"EventID":4634,`, `"EventID":4672,`},
		"proxy":         {`"c-useragent":`},
		"mixed":         {`"EventID":1,`, `"EventID":3,`, `"EventID":11,`, `"EventID":13,`, `"EventID":4624,`, `"EventID":4634,`, `"c-useragent":`},
	}
	for _, spec := range Lanes {
		l := generate(spec, 3000, 0.02, 5)
		again := generate(spec, 3000, 0.02, 5)
		if !bytes.Equal(l.data, again.data) {
			t.Errorf("%s: not deterministic", spec.Name)
		}
		if l.injected == 0 {
			t.Errorf("%s: no suspicious events at hit rate 0.02", spec.Name)
		}
		seen := map[string]bool{}
		for i := range l.len() {
			ev := l.event(i)
			if !json.Valid(ev) {
				t.Fatalf("%s: event %d is not JSON: %s", spec.Name, i, ev)
			}
			found := false
			for _, m := range marks[spec.Name] {
				if bytes.Contains(ev, []byte(m)) {
					seen[m], found = true, true
				}
			}
			if !found && spec.Name != "mixed" {
				t.Fatalf("%s: event %d is of another kind: %s", spec.Name, i, ev)
			}
		}
		for _, m := range marks[spec.Name] {
			if !seen[m] {
				t.Errorf("%s: no %s event", spec.Name, m)
			}
		}
	}
}

// TestE2EWarmup: the untimed start of an end-to-end run is one copy of the lane, a sixth of the
// records when that is more, and never more than half of them.
func TestE2EWarmup(t *testing.T) {
	for _, c := range []struct{ lane, records, want int }{
		{50000, 300000, 50000},     // one copy of a generated lane
		{120, 300000, 50000},       // a short file: a sixth
		{1000000, 1000000, 166666}, // one copy would be all of it
		{300, 300, 50},
		{1, 1, 0},
	} {
		if got := e2eWarmup(c.lane, c.records); got != c.want {
			t.Errorf("e2eWarmup(%d, %d) = %d, want %d", c.lane, c.records, got, c.want)
		}
	}
}
