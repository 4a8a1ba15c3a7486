package stream

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vigil-detect/vigil/alert"
)

func TestWebhookSink(t *testing.T) {
	var mu sync.Mutex
	var got []string
	status := http.StatusOK
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		got = append(got, r.Header.Get("Content-Type")+" "+r.Header.Get("X-Token")+" "+string(b))
		st := status
		mu.Unlock()
		if st != http.StatusOK {
			http.Error(w, "collector is full", st)
		}
	}))
	defer srv.Close()
	alerts := []*alert.Alert{{ID: "a1", Kind: "detection", Time: time.Unix(0, 0).UTC()}, {ID: "a2", Kind: "detection", Time: time.Unix(0, 0).UTC()}}
	cases := []struct {
		body     string
		requests int
		want     string // start of the first request
	}{
		{"", 1, `application/x-ndjson tok {"id":"a1"`},
		{"array", 1, `application/json tok [{"id":"a1"`},
		{"single", 2, `application/json tok {"id":"a1"`},
	}
	for _, c := range cases {
		got = nil
		s, err := NewWebhookSink(WebhookConfig{URL: srv.URL, Body: c.body, Headers: map[string]string{"X-Token": "tok"}})
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Write(context.Background(), alerts); err != nil {
			t.Fatal(err)
		}
		if len(got) != c.requests || !strings.HasPrefix(got[0], c.want) {
			t.Errorf("body %q: %d requests %q", c.body, len(got), got)
		}
		if c.body == "" && strings.Count(got[0], "\n") != 2 {
			t.Errorf("ndjson body: %q", got[0])
		}
		s.Close()
	}
	mu.Lock()
	status = http.StatusServiceUnavailable
	mu.Unlock()
	s, _ := NewWebhookSink(WebhookConfig{URL: srv.URL})
	if err := s.Write(context.Background(), alerts); err == nil || !strings.Contains(err.Error(), "503") || !strings.Contains(err.Error(), "collector is full") {
		t.Errorf("a 503 must fail the write (the pipeline retries it): %v", err)
	}
	if _, err := NewWebhookSink(WebhookConfig{URL: srv.URL, Body: "xml"}); err == nil {
		t.Error("unknown body accepted")
	}
}
