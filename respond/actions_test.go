package respond

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vigil-detect/vigil/alert"
)

const brute = "brute"

func bruteAlert(at time.Duration, ips, users, hosts []string) *alert.Alert {
	return mk(alertSpec{rule: brute, kind: alert.KindCorrelation, ip: ips, user: users, host: hosts, at: at})
}

func TestWebhookSignedAndAllowlistsNeverTouched(t *testing.T) {
	rc := newReceiver(t)
	r, rec := newResponder(t, fmt.Sprintf(`
allowlist: {cidrs: [198.51.100.0/24], users: [svc_scanner], hosts: [NW-DC01]}
actions:
  block_ip: {type: webhook, url: '%[1]s/block', secret: s3cret-value, headers: {X-Team: soc}}
  disable_account: {type: webhook, url: '%[1]s/disable'}
  isolate_host: {type: webhook, url: '%[1]s/isolate'}
playbooks:
  - name: contain
    mode: enforce
    match: {rules: [brute]}
    actions: [{action: block_ip, params: {duration: 24h}}, {action: disable_account}, {action: isolate_host}]
`, rc.URL))
	a := bruteAlert(0, []string{"198.51.100.7", "203.0.113.50", "127.0.0.1"}, []string{"NORTHWIND\\svc_scanner", "anna"}, []string{"NW-DC01.northwind.local", "WS1"})
	process(t, r, a)
	r.Close()

	reqs := rc.requests()
	if got := rc.targets(); !slices.Equal(sorted(got), []string{"203.0.113.50", "WS1", "anna"}) {
		t.Fatalf("acted on %v, want 203.0.113.50, anna and WS1 only", got)
	}
	for _, rq := range reqs {
		if rq.doc["target"] != "203.0.113.50" {
			if rq.header.Get("X-Vigil-Signature") != "" {
				t.Error("unsigned action carries a signature")
			}
			continue
		}
		ts := rq.header.Get("X-Vigil-Timestamp")
		if want := Sign([]byte("s3cret-value"), ts, rq.body); rq.header.Get("X-Vigil-Signature") != want || ts == "" {
			t.Errorf("signature %q, want %q", rq.header.Get("X-Vigil-Signature"), want)
		}
		if Sign([]byte("wrong"), ts, rq.body) == rq.header.Get("X-Vigil-Signature") {
			t.Error("signature does not depend on the secret")
		}
		if rq.header.Get("X-Team") != "soc" || rq.header.Get("Content-Type") != "application/json" || rq.header.Get("X-Vigil-Operation") != "block_ip" {
			t.Errorf("headers %v", rq.header)
		}
		params, _ := rq.doc["params"].(map[string]any)
		alertDoc, _ := rq.doc["alert"].(map[string]any)
		if rq.doc["mode"] != "enforce" || params["duration"] != "24h" || alertDoc["id"] != a.ID || rq.doc["decision"] != rq.header.Get("X-Vigil-Decision") {
			t.Errorf("body %s", rq.body)
		}
	}
	skipped := map[string]bool{}
	for _, d := range rec.with(OutcomeSkipped) {
		if d.Reason != ReasonAllowlisted {
			t.Errorf("unexpected skip %+v", d)
		}
		skipped[d.Target] = true
	}
	for _, want := range []string{"198.51.100.7", "127.0.0.1", "NORTHWIND\\svc_scanner", "NW-DC01.northwind.local"} {
		if !skipped[want] {
			t.Errorf("no allowlisted record for %s (got %v)", want, skipped)
		}
	}
	if n := len(rec.with(OutcomeExecuted)); n != 3 {
		t.Errorf("%d executed records", n)
	}
	for _, d := range rec.with(OutcomeExecuted) {
		if d.Latency <= 0 || d.Result != "HTTP 200" || d.Attempt != 1 || d.Request == nil {
			t.Errorf("executed record %+v", d)
		}
	}
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

func TestDryRunExecutesNothing(t *testing.T) {
	rc := newReceiver(t)
	dir := t.TempDir()
	marker := filepath.Join(dir, "ran")
	script := writeScript(t, dir, "touch.sh", "#!/bin/sh\ntouch "+marker+"\n")
	yaml := fmt.Sprintf(`
actions:
  block_ip: {type: webhook, url: '%[1]s/block'}
  isolate_host: {type: exec, command: ['%[2]s']}
  notify: {type: webhook, url: '%[1]s/notify'}
playbooks:
  - name: rehearse
    match: {rules: [brute]}
    actions: [{action: block_ip, approval: required}, {action: isolate_host}]
  - name: forced
    mode: enforce
    match: {rules: [brute]}
    actions: [{action: notify}]
force_dry_run: true
`, rc.URL, script)
	r, rec := newResponder(t, yaml)
	process(t, r, bruteAlert(0, []string{"203.0.113.50"}, nil, []string{"WS1"}))
	r.Close()
	if n := len(rc.requests()); n != 0 {
		t.Fatalf("dry run sent %d requests", n)
	}
	if _, err := os.Stat(marker); err == nil {
		t.Fatal("dry run executed the program")
	}
	ds := rec.with(OutcomeDryRun)
	if len(ds) != 3 || len(rec.all()) != 3 {
		t.Fatalf("records %+v", rec.all())
	}
	for _, d := range ds {
		if d.Mode != ModeDryRun || d.Request == nil || d.Approval != (d.Action == "block_ip") {
			t.Errorf("dry-run record %+v", d)
		}
		if d.Action == "block_ip" && (!strings.HasSuffix(d.Request.URL, "/block") || !strings.Contains(d.Request.Body, `"target":"203.0.113.50"`)) {
			t.Errorf("dry-run request %+v", d.Request)
		}
		if d.Action == "isolate_host" && (len(d.Request.Argv) != 1 || d.Request.Argv[0] != script) {
			t.Errorf("dry-run argv %+v", d.Request)
		}
	}
}

func writeScript(t *testing.T, dir, name, text string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(text), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestExecRunsProgramWithoutShell(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "out")
	script := writeScript(t, dir, "isolate.sh", `#!/bin/sh
out="$1"; shift
for a in "$@"; do printf 'arg=%s\n' "$a" >> "$out"; done
printf 'op=%s target=%s\n' "$VIGIL_OPERATION" "$VIGIL_TARGET" >> "$out"
printf 'passed=%s secret=%s\n' "$EDR_TOKEN" "$VIGIL_APPROVAL_TOKEN" >> "$out"
cat >> "$out"
echo isolated
`)
	r, rec := newResponder(t, fmt.Sprintf(`
actions:
  disable_account:
    type: exec
    command: ['%s', '%s', '--', '{{.Target}}', '{{.Alert.Rule.Name}}']
    env: [EDR_TOKEN]
    body: '{"user": {{json .Target}}}'
playbooks:
  - {name: p, mode: enforce, match: {kinds: [correlation]}, actions: [{action: disable_account}]}
`, script, out))
	t.Setenv("EDR_TOKEN", "edr-123")
	t.Setenv("VIGIL_APPROVAL_TOKEN", "must-not-leak")
	evil := "anna; touch " + filepath.Join(dir, "pwned") + " $(id)"
	process(t, r, bruteAlert(0, nil, []string{evil}, nil))
	r.Close()
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	want := "arg=--\narg=" + evil + "\narg=brute\nop=disable_account target=" + evil + "\npassed=edr-123 secret=\n" + `{"user": "anna; touch ` + filepath.Join(dir, "pwned") + ` $(id)"}`
	if string(data) != want {
		t.Errorf("program saw:\n%s\nwant:\n%s", data, want)
	}
	if _, err := os.Stat(filepath.Join(dir, "pwned")); err == nil {
		t.Error("a shell interpreted the target")
	}
	ex := rec.with(OutcomeExecuted)
	if len(ex) != 1 || ex[0].Result != "exit 0: isolated" {
		t.Errorf("executed %+v", ex)
	}
}

func TestRetriesWithBackoff(t *testing.T) {
	t.Run("webhook transient then success", func(t *testing.T) {
		rc := newReceiver(t, 503, 429, 200)
		r, rec := newResponder(t, fmt.Sprintf(`
actions:
  block_ip: {type: webhook, url: '%s', retries: 3, backoff: 10ms}
playbooks: [{name: p, mode: enforce, actions: [{action: block_ip}]}]
`, rc.URL))
		process(t, r, bruteAlert(0, []string{"203.0.113.50"}, nil, nil))
		r.Close()
		retries, ex := rec.with(OutcomeRetry), rec.with(OutcomeExecuted)
		if len(rc.requests()) != 3 || len(retries) != 2 || len(ex) != 1 || ex[0].Attempt != 3 {
			t.Errorf("requests %d, retries %+v, executed %+v", len(rc.requests()), retries, ex)
		}
		if len(retries) == 2 && (retries[0].Result != "HTTP 503" || retries[1].Result != "HTTP 429") {
			t.Errorf("retry results %q %q", retries[0].Result, retries[1].Result)
		}
	})
	t.Run("webhook permanent failure", func(t *testing.T) {
		rc := newReceiver(t, 400)
		r, rec := newResponder(t, fmt.Sprintf(`
actions:
  block_ip: {type: webhook, url: '%s', retries: 3, backoff: 10ms}
playbooks: [{name: p, mode: enforce, actions: [{action: block_ip}]}]
`, rc.URL))
		process(t, r, bruteAlert(0, []string{"203.0.113.50"}, nil, nil))
		r.Close()
		f := rec.with(OutcomeFailed)
		if len(rc.requests()) != 1 || len(f) != 1 || f[0].Attempt != 1 || !strings.Contains(f[0].Error, "HTTP 400") || len(rec.with(OutcomeRetry)) != 0 {
			t.Errorf("requests %d, failed %+v", len(rc.requests()), f)
		}
	})
	t.Run("webhook unreachable gives up", func(t *testing.T) {
		rc := newReceiver(t)
		url := rc.URL
		rc.Close() // connection refused
		r, rec := newResponder(t, fmt.Sprintf(`
actions:
  block_ip: {type: webhook, url: '%s', retries: 2, backoff: 5ms}
playbooks: [{name: p, mode: enforce, actions: [{action: block_ip}]}]
`, url))
		process(t, r, bruteAlert(0, []string{"203.0.113.50"}, nil, nil))
		r.Close()
		f := rec.with(OutcomeFailed)
		if len(rec.with(OutcomeRetry)) != 2 || len(f) != 1 || f[0].Attempt != 3 {
			t.Errorf("records %+v", rec.all())
		}
	})
	t.Run("exec tempfail and timeout", func(t *testing.T) {
		dir := t.TempDir()
		count := filepath.Join(dir, "count")
		script := writeScript(t, dir, "flaky.sh", `#!/bin/sh
echo x >> "`+count+`"
n=$(wc -l < "`+count+`")
if [ "$n" -lt 3 ]; then echo busy; exit 75; fi
echo done
`)
		slow := writeScript(t, dir, "slow.sh", "#!/bin/sh\nexec sleep 5\n")
		r, rec := newResponder(t, fmt.Sprintf(`
actions:
  block_ip: {type: exec, command: ['%s'], retries: 3, backoff: 5ms}
  isolate_host: {type: exec, command: ['%s'], retries: 1, backoff: 5ms, timeout: 100ms}
playbooks: [{name: p, mode: enforce, actions: [{action: block_ip}, {action: isolate_host}]}]
`, script, slow))
		start := time.Now()
		process(t, r, bruteAlert(0, []string{"203.0.113.50"}, nil, []string{"WS1"}))
		r.Close()
		if time.Since(start) > 4*time.Second {
			t.Error("the timeout did not stop the slow program")
		}
		ex, f := rec.with(OutcomeExecuted), rec.with(OutcomeFailed)
		if len(ex) != 1 || ex[0].Action != "block_ip" || ex[0].Attempt != 3 || ex[0].Result != "exit 0: done" {
			t.Errorf("executed %+v", ex)
		}
		if len(f) != 1 || f[0].Action != "isolate_host" || f[0].Attempt != 2 || !strings.Contains(f[0].Error, "timed out") {
			t.Errorf("failed %+v", f)
		}
	})
}

func TestApprovalFlowOverHTTP(t *testing.T) {
	rc := newReceiver(t)
	token := "correct-horse-battery-staple-42"
	clock := &fakeClock{now: time.Now()}
	r, rec := newResponder(t, fmt.Sprintf(`
approvals: {addr: '127.0.0.1:0', token: '%s', expire: 100ms}
actions:
  block_ip: {type: webhook, url: '%s'}
playbooks:
  - name: p
    mode: enforce
    actions: [{action: block_ip, approval: required}]
`, token, rc.URL), func(o *Options) { o.Now = clock.Now })
	base := "http://" + r.ApprovalAddr() + "/response/approvals"
	if !strings.HasPrefix(r.ApprovalAddr(), "127.0.0.1:") {
		t.Fatalf("approval API on %q", r.ApprovalAddr())
	}
	process(t, r, bruteAlert(0, []string{"203.0.113.1", "203.0.113.2", "203.0.113.3"}, nil, nil))
	if n := len(rec.with(OutcomePending)); n != 3 {
		t.Fatalf("%d pending records", n)
	}

	call := func(method, url, auth, body string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(method, url, strings.NewReader(body))
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	var list []PendingApproval
	for _, auth := range []string{"", "Bearer wrong-token-wrong-token", "Basic " + token, "Bearer " + token[:len(token)-1], token} {
		if code, _ := call("GET", base, auth, ""); code != http.StatusUnauthorized {
			t.Errorf("GET with %q: %d, want 401", auth, code)
		}
		if code, _ := call("POST", base+"/x/approve", auth, ""); code != http.StatusUnauthorized {
			t.Errorf("approve with %q: %d, want 401", auth, code)
		}
	}
	code, body := call("GET", base, "Bearer "+token, "")
	if code != 200 || json.Unmarshal([]byte(body), &list) != nil || len(list) != 3 {
		t.Fatalf("list: %d %s", code, body)
	}
	id := map[string]string{}
	for _, p := range list {
		id[p.Target] = p.ID
		if p.Request == nil || p.Expires.IsZero() {
			t.Errorf("pending entry %+v", p)
		}
	}
	if len(rc.requests()) != 0 {
		t.Fatal("acted before approval")
	}
	if code, _ := call("POST", base+"/"+id["203.0.113.1"]+"/approve", "Bearer "+token, `{"by":"alice","comment":"confirmed"}`); code != http.StatusAccepted {
		t.Fatalf("approve: %d", code)
	}
	waitFor(t, "the approved action", func() bool { return len(rec.with(OutcomeExecuted)) == 1 })
	if code, _ := call("POST", base+"/"+id["203.0.113.1"]+"/approve", "Bearer "+token, ""); code != http.StatusNotFound {
		t.Errorf("second approval: %d", code)
	}
	if code, _ := call("POST", base+"/"+id["203.0.113.2"]+"/deny", "bearer "+token, `{"by":"bob"}`); code != http.StatusOK {
		t.Errorf("deny: %d", code)
	}
	if code, _ := call("POST", base+"/"+id["203.0.113.3"]+"/approve", "Bearer "+token, `not json`); code != http.StatusBadRequest {
		t.Errorf("bad body: %d", code)
	}
	clock.Add(time.Second) // the third was never decided
	waitFor(t, "the expiry", func() bool { return len(rec.with(OutcomeExpired)) == 1 })
	if code, _ := call("POST", base+"/"+id["203.0.113.3"]+"/approve", "Bearer "+token, ""); code != http.StatusNotFound {
		t.Errorf("approving an expired action: %d", code)
	}
	r.Close()

	if got := rc.targets(); !slices.Equal(got, []string{"203.0.113.1"}) {
		t.Errorf("acted on %v, want the approved target only", got)
	}
	by := func(outcome string) Decision {
		ds := rec.with(outcome)
		if len(ds) != 1 {
			t.Fatalf("%d %s records", len(ds), outcome)
		}
		return ds[0]
	}
	if a := by(OutcomeApproved); a.By != "alice" || a.Comment != "confirmed" || a.Target != "203.0.113.1" {
		t.Errorf("approved %+v", a)
	}
	if e := by(OutcomeExecuted); e.By != "alice" || e.Target != "203.0.113.1" {
		t.Errorf("executed %+v", e)
	}
	if d := by(OutcomeDenied); d.By != "bob" || d.Target != "203.0.113.2" {
		t.Errorf("denied %+v", d)
	}
	if e := by(OutcomeExpired); e.Target != "203.0.113.3" || e.Reason != "" {
		t.Errorf("expired %+v", e)
	}
}

func TestApprovalsPendingAtShutdownExpire(t *testing.T) {
	rc := newReceiver(t)
	r, rec := newResponder(t, fmt.Sprintf(`
approvals: {addr: '127.0.0.1:0', token: 'a-long-enough-token'}
actions: {block_ip: {type: webhook, url: '%s'}}
playbooks: [{name: p, mode: enforce, actions: [{action: block_ip, approval: required}]}]
`, rc.URL))
	process(t, r, bruteAlert(0, []string{"203.0.113.1"}, nil, nil))
	process(t, r, bruteAlert(0, []string{"203.0.113.1"}, nil, nil)) // same alert again: already waiting
	r.Close()
	if e := rec.with(OutcomeExpired); len(e) != 1 || e[0].Reason != ReasonShutdown {
		t.Errorf("expired %+v", e)
	}
	if s := rec.with(OutcomeSkipped); len(s) != 1 || s[0].Reason != ReasonCooldown && s[0].Reason != ReasonAlreadyPending {
		t.Errorf("skipped %+v", s)
	}
	if len(rc.requests()) != 0 {
		t.Error("acted without approval")
	}
}

func TestAlertStormRateLimitsAndCircuitBreaker(t *testing.T) {
	storm := func(n int, prefix string) []*alert.Alert {
		var out []*alert.Alert
		for i := 0; i < n; i++ {
			out = append(out, bruteAlert(time.Duration(i)*time.Millisecond, []string{fmt.Sprintf("%s.%d.%d", prefix, i/250, i%250+1)}, nil, nil))
		}
		return out
	}
	count := func(ds []Decision, reason string) int {
		n := 0
		for _, d := range ds {
			if d.Reason == reason {
				n++
			}
		}
		return n
	}
	t.Run("circuit breaker", func(t *testing.T) {
		rc := newReceiver(t)
		clock := &fakeClock{now: time.Now()}
		r, rec := newResponder(t, fmt.Sprintf(`
rate_limit: unlimited
actions:
  block_ip: {type: webhook, url: '%s', rate_limit: unlimited, max_targets_per_minute: 10, breaker_reset: 5m}
playbooks: [{name: p, mode: enforce, actions: [{action: block_ip}]}]
`, rc.URL), func(o *Options) { o.Now = clock.Now })
		process(t, r, storm(500, "198.18")...)
		if q, s := len(rec.with(OutcomeQueued)), count(rec.with(OutcomeSkipped), ReasonCircuitOpen); q != 10 || s != 490 {
			t.Fatalf("queued %d, circuit_open %d; want 10 and 490", q, s)
		}
		// Still open a minute later, even for a target already acted on.
		clock.Add(time.Minute)
		process(t, r, bruteAlert(time.Hour, []string{"198.18.0.1"}, nil, nil))
		if s := count(rec.with(OutcomeSkipped), ReasonCircuitOpen); s != 491 {
			t.Errorf("breaker closed early: %d", s)
		}
		clock.Add(5 * time.Minute)
		process(t, r, storm(20, "198.19")...)
		r.Close()
		if n := len(rc.requests()); n != 20 {
			t.Errorf("%d requests, want 10 before and 10 after the reset", n)
		}
		if ex := len(rec.with(OutcomeExecuted)); ex != 20 {
			t.Errorf("%d executed", ex)
		}
	})
	t.Run("rate limits and cooldown", func(t *testing.T) {
		rc := newReceiver(t)
		clock := &fakeClock{now: time.Now()}
		r, rec := newResponder(t, fmt.Sprintf(`
rate_limit: 8/1m
actions:
  block_ip: {type: webhook, url: '%[1]s', rate_limit: 5/1m, max_targets_per_minute: 0}
  isolate_host: {type: webhook, url: '%[1]s', rate_limit: 100/1m, max_targets_per_minute: 0}
playbooks: [{name: p, mode: enforce, actions: [{action: block_ip}]}, {name: q, mode: enforce, match: {entity: host}, actions: [{action: isolate_host}]}]
`, rc.URL), func(o *Options) { o.Now = clock.Now })
		process(t, r, storm(100, "198.18")...)
		if q, s := len(rec.with(OutcomeQueued)), count(rec.with(OutcomeSkipped), ReasonRateLimited); q != 5 || s != 95 {
			t.Fatalf("queued %d, rate_limited %d; want 5 and 95", q, s)
		}
		clock.Add(12 * time.Second) // one token back (5 per minute)
		process(t, r, storm(3, "198.19")...)
		if q := len(rec.with(OutcomeQueued)); q != 6 {
			t.Errorf("queued %d after refill, want 6", q)
		}
		// The global limit (8/min) caps the other action: 5 + 1 used, 8 - 5 + 1.6 - 1 = 3.6 left.
		var hosts []*alert.Alert
		for i := 0; i < 10; i++ {
			hosts = append(hosts, mk(alertSpec{rule: "other", host: []string{fmt.Sprintf("WS%d", i)}}))
		}
		process(t, r, hosts...)
		if q, g := len(rec.with(OutcomeQueued)), count(rec.with(OutcomeSkipped), ReasonGlobalRateLimited); q != 9 || g != 7 {
			t.Errorf("queued %d, global_rate_limited %d; want 9 and 7", q, g)
		}
		// Cooldown: acting on a target once per cooldown (default 15 minutes).
		clock.Add(time.Hour)
		process(t, r, bruteAlert(0, []string{"203.0.113.9"}, nil, nil), bruteAlert(time.Second, []string{"203.0.113.9"}, nil, nil))
		if c := count(rec.with(OutcomeSkipped), ReasonCooldown); c != 1 {
			t.Errorf("%d cooldown skips, want 1", c)
		}
		r.Close()
		if n := len(rc.requests()); n != 10 {
			t.Errorf("%d requests, want 10", n)
		}
	})
	t.Run("queue full", func(t *testing.T) {
		rc := newReceiver(t)
		rc.delay = 200 * time.Millisecond
		r, rec := newResponder(t, fmt.Sprintf(`
queue: {size: 1, workers: 1}
rate_limit: unlimited
actions: {block_ip: {type: webhook, url: '%s', rate_limit: unlimited, max_targets_per_minute: 0}}
playbooks: [{name: p, mode: enforce, actions: [{action: block_ip}]}]
`, rc.URL))
		process(t, r, storm(6, "198.18")...)
		r.Close()
		ex, full := len(rec.with(OutcomeExecuted)), count(rec.with(OutcomeSkipped), ReasonQueueFull)
		if ex+full != 6 || full < 4 || ex != len(rc.requests()) {
			t.Errorf("executed %d, queue_full %d, requests %d", ex, full, len(rc.requests()))
		}
	})
}

func TestAutoRevert(t *testing.T) {
	rc := newReceiver(t)
	r, rec := newResponder(t, fmt.Sprintf(`
actions:
  block_ip: {type: webhook, url: '%[1]s/block', revert_after: 150ms, revert: {url: '%[1]s/unblock'}}
  notify: {type: webhook, url: '%[1]s/notify'}
playbooks: [{name: p, mode: enforce, actions: [{action: block_ip}, {action: notify}]}]
`, rc.URL))
	process(t, r, bruteAlert(0, []string{"203.0.113.50"}, nil, nil))
	waitFor(t, "the revert", func() bool { return len(rec.with(OutcomeReverted)) == 1 })
	r.Close()
	var ops []string
	for _, rq := range rc.requests() {
		ops = append(ops, rq.header.Get("X-Vigil-Operation")+" "+rq.doc["operation"].(string))
	}
	if !slices.Equal(sorted(ops), []string{"block_ip block_ip", "notify notify", "unblock_ip unblock_ip"}) {
		t.Errorf("operations %v", ops)
	}
	rv := rec.with(OutcomeReverted)[0]
	ex := rec.with(OutcomeExecuted)
	var block Decision
	for _, d := range ex {
		if d.Action == "block_ip" {
			block = d
		}
	}
	if rv.ID != block.ID || rv.Operation != "unblock_ip" || !strings.HasSuffix(rv.Request.URL, "/unblock") || block.RevertAt.IsZero() {
		t.Errorf("revert %+v of %+v", rv, block)
	}
}

func TestRevertsSurviveRestartWithStateFile(t *testing.T) {
	rc := newReceiver(t)
	state := filepath.Join(t.TempDir(), "reverts.json")
	yaml := fmt.Sprintf(`
revert_state: '%s'
actions: {block_ip: {type: webhook, url: '%s', revert_after: 1h}}
playbooks: [{name: p, mode: enforce, actions: [{action: block_ip}]}]
`, state, rc.URL)
	clock := &fakeClock{now: time.Now()}
	r, rec := newResponder(t, yaml, func(o *Options) { o.Now = clock.Now })
	process(t, r, bruteAlert(0, []string{"203.0.113.50"}, nil, nil))
	waitFor(t, "the block", func() bool { return len(rec.with(OutcomeExecuted)) == 1 })
	r.Close()
	if len(rec.with(OutcomeRevertAbandoned)) != 0 {
		t.Fatal("revert abandoned although a state file is configured")
	}
	data, err := os.ReadFile(state)
	if err != nil || !strings.Contains(string(data), "203.0.113.50") {
		t.Fatalf("state file: %v %s", err, data)
	}
	clock.Add(2 * time.Hour) // the agent was down past the due time
	r2, rec2 := newResponder(t, yaml, func(o *Options) { o.Now = clock.Now })
	waitFor(t, "the resumed revert", func() bool { return len(rec2.with(OutcomeReverted)) == 1 })
	r2.Close()
	reqs := rc.requests()
	if len(reqs) != 2 || reqs[1].doc["operation"] != "unblock_ip" || reqs[1].doc["target"] != "203.0.113.50" {
		t.Errorf("requests %v", rc.targets())
	}
	data, _ = os.ReadFile(state)
	if strings.Contains(string(data), "203.0.113.50") {
		t.Error("done revert still in the state file")
	}

	// Without a state file, a revert pending at shutdown is reported for a person to undo.
	r3, rec3 := newResponder(t, fmt.Sprintf(`
actions: {block_ip: {type: webhook, url: '%s', revert_after: 1h}}
playbooks: [{name: p, mode: enforce, actions: [{action: block_ip}]}]
`, rc.URL))
	process(t, r3, bruteAlert(0, []string{"203.0.113.51"}, nil, nil))
	waitFor(t, "the block", func() bool { return len(rec3.with(OutcomeExecuted)) == 1 })
	r3.Close()
	if ab := rec3.with(OutcomeRevertAbandoned); len(ab) != 1 || ab[0].Target != "203.0.113.51" || ab[0].Operation != "unblock_ip" {
		t.Errorf("abandoned %+v", ab)
	}
}

func TestAuditFileRecordsEveryDecision(t *testing.T) {
	rc := newReceiver(t)
	file := filepath.Join(t.TempDir(), "audit.ndjson")
	r, rec := newResponder(t, fmt.Sprintf(`
audit: {file: '%s'}
allowlist: {cidrs: [198.51.100.0/24]}
actions: {block_ip: {type: webhook, url: '%s'}}
playbooks: [{name: p, mode: enforce, actions: [{action: block_ip}]}]
`, file, rc.URL))
	process(t, r, bruteAlert(0, []string{"198.51.100.7", "203.0.113.50"}, nil, nil))
	r.Close()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var outcomes []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var d Decision
		if err := json.Unmarshal(sc.Bytes(), &d); err != nil {
			t.Fatalf("audit line %q: %v", sc.Text(), err)
		}
		if d.ID == "" || d.Time.IsZero() || d.AlertID == "" {
			t.Errorf("incomplete record %s", sc.Text())
		}
		outcomes = append(outcomes, d.Outcome+"/"+d.Target)
	}
	want := []string{"skipped/198.51.100.7", "queued/203.0.113.50", "executed/203.0.113.50"}
	if !slices.Equal(outcomes, want) || len(rec.all()) != 3 {
		t.Errorf("audit %v, want %v", outcomes, want)
	}
}

// TestApprovalAPIOnSharedMux mounts the API on the metrics server's mux (approvals.addr:
// metrics) and caps how many actions may wait.
func TestApprovalAPIOnSharedMux(t *testing.T) {
	rc := newReceiver(t)
	mux := http.NewServeMux()
	mux.HandleFunc("/metrics", func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte("ok")) })
	srv := httptest.NewServer(mux)
	defer srv.Close()
	token := "shared-mux-token-0123456789"
	r, rec := newResponder(t, fmt.Sprintf(`
approvals: {addr: metrics, token: '%s', max_pending: 2}
actions: {block_ip: {type: webhook, url: '%s', max_targets_per_minute: 0}}
playbooks: [{name: p, mode: enforce, actions: [{action: block_ip, approval: required}]}]
`, token, rc.URL), func(o *Options) { o.Mux = mux })
	if r.ApprovalAddr() != "" {
		t.Errorf("own listener %q although sharing", r.ApprovalAddr())
	}
	process(t, r, bruteAlert(0, []string{"203.0.113.1", "203.0.113.2", "203.0.113.3"}, nil, nil))
	if p, s := len(rec.with(OutcomePending)), rec.with(OutcomeSkipped); p != 2 || len(s) != 1 || s[0].Reason != ReasonApprovalsFull {
		t.Fatalf("pending %d, skipped %+v", p, s)
	}
	resp, err := http.Get(srv.URL + "/response/approvals")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("unauthenticated list: %d", resp.StatusCode)
	}
	req, _ := http.NewRequest("POST", srv.URL+"/response/approvals/"+rec.with(OutcomePending)[0].ID+"/approve", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("approve: %d", resp.StatusCode)
	}
	r.Close()
	if got := rc.targets(); len(got) != 1 || got[0] != "203.0.113.1" {
		t.Errorf("acted on %v", got)
	}
	if _, err := New(&Config{Approvals: Approvals{Addr: "metrics", Token: token}, Actions: map[string]*ActionConfig{"block_ip": {Type: "webhook", URL: rc.URL}},
		Playbooks: []*Playbook{{Name: "p", Mode: ModeEnforce, Actions: []PlaybookAction{{Action: "block_ip", Approval: "required"}}}}}, Options{Log: quietLog()}); err == nil {
		t.Error("addr: metrics accepted without a metrics mux")
	}
}
