package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/vigil-detect/vigil/respond"
)

// TestResponseExample runs the documented example end to end: `vigil eval --config
// examples/response/vigil.yaml examples/response/events.ndjson` with VIGIL_WEBHOOK_URL pointing
// at a real HTTP server on 127.0.0.1. Two brute forces are in the events; the one from the
// allowlisted 198.51.100.0/24 must not be acted on, so exactly one signed POST arrives, for
// 203.0.113.50.
func TestResponseExample(t *testing.T) {
	type post struct {
		header http.Header
		body   []byte
	}
	var mu sync.Mutex
	var posts []post
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		posts = append(posts, post{r.Header.Clone(), b})
		mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	const secret = "example-secret-for-the-test"
	t.Setenv("VIGIL_WEBHOOK_URL", srv.URL+"/block")
	t.Setenv("VIGIL_WEBHOOK_SECRET", secret)
	t.Chdir("../..") // the example's paths are relative to the repository root, as in its README

	code, out, errOut := run("eval", "--config", "examples/response/vigil.yaml", "examples/response/events.ndjson")
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, errOut)
	}
	var correlations []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var a map[string]any
		if err := json.Unmarshal([]byte(line), &a); err != nil {
			t.Fatalf("output line is not JSON: %v: %s", err, line)
		}
		if _, ok := a["enrichment"]; !ok {
			t.Errorf("alert without enrichment (score parts): %.300s", line)
		}
		if a["kind"] == "correlation" {
			correlations = append(correlations, a)
		}
	}
	if len(correlations) == 0 {
		mu.Lock()
		n := len(posts)
		mu.Unlock()
		if n != 0 {
			t.Fatalf("%d POSTs without any correlation alert", n)
		}
		t.Skip("needs the correlation stage (issue 4): no correlation alert in the output, so the brute-force playbook cannot fire")
	}

	mu.Lock()
	defer mu.Unlock()
	if len(posts) != 1 {
		t.Fatalf("%d POSTs, want exactly 1 (for 203.0.113.50)\nstderr:\n%s", len(posts), errOut)
	}
	p := posts[0]
	var doc struct {
		Operation string `json:"operation"`
		Target    string `json:"target"`
		Mode      string `json:"mode"`
		Alert     struct {
			Rule struct {
				Name string `json:"name"`
			} `json:"rule"`
		} `json:"alert"`
	}
	if err := json.Unmarshal(p.body, &doc); err != nil {
		t.Fatalf("body is not JSON: %v: %s", err, p.body)
	}
	if doc.Target != "203.0.113.50" || doc.Operation != "block_ip" || doc.Mode != "enforce" || doc.Alert.Rule.Name != "brute_force_external" {
		t.Errorf("POST body %s", p.body)
	}
	if want := respond.Sign([]byte(secret), p.header.Get("X-Vigil-Timestamp"), p.body); p.header.Get("X-Vigil-Signature") != want {
		t.Errorf("signature %q, want %q", p.header.Get("X-Vigil-Signature"), want)
	}
	if !strings.Contains(errOut, "outcome=skipped") || !strings.Contains(errOut, "reason=allowlisted") || !strings.Contains(errOut, "target=198.51.100.7") {
		t.Errorf("stderr does not record the allowlisted decision:\n%s", errOut)
	}
}

func TestConfigCheckValidatesResponse(t *testing.T) {
	dir := t.TempDir()
	bad := dir + "/bad.yaml"
	os.WriteFile(bad, []byte("response:\n  enrichment:\n    indicators: [{file: "+dir+"/missing.txt}]\n  actions:\n    block_ip: {type: webhook, url: 'http://127.0.0.1/x', tagret: ip}\n"), 0o644)
	code, out, _ := run("config", "check", bad)
	if code != 1 || !strings.Contains(out, bad+":5: unknown key response.actions.block_ip.tagret (did you mean target?)") {
		t.Errorf("bad response section: %d %q", code, out)
	}
	os.WriteFile(bad, []byte("response:\n  enrichment:\n    indicators: [{file: "+dir+"/missing.txt}]\n"), 0o644)
	if code, out, _ := run("config", "check", bad); code != 1 || !strings.Contains(out, "missing.txt") {
		t.Errorf("missing indicator file: %d %q", code, out)
	}
	t.Setenv("VIGIL_WEBHOOK_URL", "http://127.0.0.1:1/block")
	if code, out, _ := run("config", "check", "../../examples/response/vigil.yaml"); code != 1 || !strings.Contains(out, "bad-ips.txt") {
		// The example's paths are relative to the repository root: from here they are missing.
		t.Errorf("example from another directory: %d %q", code, out)
	}
	t.Chdir("../..")
	if code, out, _ := run("config", "check", "examples/response/vigil.yaml"); code != 0 {
		t.Errorf("example: %d %q", code, out)
	}
}
