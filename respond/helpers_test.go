package respond

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/vigil-detect/vigil/alert"
)

func quietLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func parseYAML(t *testing.T, text string) (*Config, error) {
	t.Helper()
	return parseYAMLb(text)
}

func parseYAMLb(text string) (*Config, error) {
	var n yaml.Node
	if err := yaml.Unmarshal([]byte(text), &n); err != nil {
		return nil, err
	}
	return ParseConfig(resolve(&n), "test.yaml")
}

// recorder keeps every audit record.
type recorder struct {
	mu sync.Mutex
	ds []Decision
}

func (r *recorder) add(d Decision) {
	r.mu.Lock()
	r.ds = append(r.ds, d)
	r.mu.Unlock()
}

func (r *recorder) all() []Decision {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Decision(nil), r.ds...)
}

func (r *recorder) with(outcome string) []Decision {
	var out []Decision
	for _, d := range r.all() {
		if d.Outcome == outcome {
			out = append(out, d)
		}
	}
	return out
}

// waitFor polls until cond holds (bounded: 10 s).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// newResponder builds a Responder from YAML; closed at the end of the test.
func newResponder(t *testing.T, text string, tweak ...func(*Options)) (*Responder, *recorder) {
	t.Helper()
	c, err := parseYAML(t, text)
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	rec := &recorder{}
	o := Options{Log: quietLog(), OnDecision: rec.add}
	for _, f := range tweak {
		f(&o)
	}
	r, err := New(c, o)
	if err != nil {
		t.Fatalf("new: %v", err)
	}
	t.Cleanup(r.Close)
	return r, rec
}

// receiver is a webhook endpoint on 127.0.0.1 that records requests and answers with the
// scripted status codes (then 200).
type receiver struct {
	*httptest.Server
	mu     sync.Mutex
	reqs   []received
	status []int
	delay  time.Duration
}

type received struct {
	header http.Header
	body   []byte
	doc    map[string]any
}

func newReceiverB(tb testing.TB) *receiver { return newReceiver(tb) }

func newReceiver(t testing.TB, status ...int) *receiver {
	t.Helper()
	rc := &receiver{status: status}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var doc map[string]any
		json.Unmarshal(body, &doc)
		rc.mu.Lock()
		rc.reqs = append(rc.reqs, received{r.Header.Clone(), body, doc})
		code := 200
		if len(rc.status) > 0 {
			code, rc.status = rc.status[0], rc.status[1:]
		}
		delay := rc.delay
		rc.mu.Unlock()
		if delay > 0 {
			time.Sleep(delay)
		}
		w.WriteHeader(code)
	}))
	t.Cleanup(rc.Close)
	return rc
}

func (rc *receiver) requests() []received {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]received(nil), rc.reqs...)
}

func (rc *receiver) targets() []string {
	var out []string
	for _, r := range rc.requests() {
		s, _ := r.doc["target"].(string)
		out = append(out, s)
	}
	return out
}

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

type alertSpec struct {
	rule, level, kind string
	ip, user, host    []string
	at                time.Duration
	tags              []string
	group             map[string]string
}

func mk(s alertSpec) *alert.Alert {
	if s.kind == "" {
		s.kind = alert.KindDetection
	}
	if s.level == "" {
		s.level = "high"
	}
	nz := func(v []string) []string {
		if v == nil {
			return []string{}
		}
		return v
	}
	a := &alert.Alert{
		Time: t0.Add(s.at), Kind: s.kind,
		Rule:     alert.Rule{ID: s.rule + "-id", Name: s.rule, Title: strings.ToUpper(s.rule), Level: s.level, Tags: s.tags},
		Entities: alert.Entities{User: nz(s.user), Host: nz(s.host), IP: nz(s.ip)},
		Group:    s.group,
		Event:    json.RawMessage(`{"EventID":4625}`),
	}
	a.ID = alert.ID([]byte(s.rule), []byte(a.Time.String()), []byte(strings.Join(s.ip, ",")), []byte(strings.Join(s.user, ",")), []byte(strings.Join(s.host, ",")))
	return a
}

func process(t *testing.T, r *Responder, alerts ...*alert.Alert) []*alert.Alert {
	t.Helper()
	var wm time.Time
	for _, a := range alerts {
		if a.Time.After(wm) {
			wm = a.Time
		}
	}
	out, err := r.Process(context.Background(), alerts, wm)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// fakeClock is a settable wall clock for the guard rails.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}
