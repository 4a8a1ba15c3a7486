package demo

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
)

// dashboardQueries returns every query of the shipped Grafana dashboard, with the dashboard's
// variables replaced as Grafana would for job "vigil".
func dashboardQueries(t *testing.T) map[string]string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "deploy", "grafana", "vigil-dashboard.json"))
	if err != nil {
		t.Fatal(err)
	}
	type panel struct {
		ID      int    `json:"id"`
		Type    string `json:"type"`
		Title   string `json:"title"`
		Targets []struct {
			Expr string `json:"expr"`
		} `json:"targets"`
		Datasource *struct {
			UID string `json:"uid"`
		} `json:"datasource"`
		Panels []json.RawMessage `json:"panels"`
	}
	var dash struct {
		UID    string            `json:"uid"`
		Panels []json.RawMessage `json:"panels"`
	}
	if err := json.Unmarshal(data, &dash); err != nil {
		t.Fatalf("dashboard JSON: %v", err)
	}
	out := map[string]string{}
	ids := map[int]bool{}
	var walk func([]json.RawMessage)
	walk = func(raw []json.RawMessage) {
		for _, r := range raw {
			var p panel
			if err := json.Unmarshal(r, &p); err != nil {
				t.Fatal(err)
			}
			if ids[p.ID] {
				t.Errorf("panel id %d used twice", p.ID)
			}
			ids[p.ID] = true
			walk(p.Panels)
			if p.Type == "row" {
				continue
			}
			if p.Datasource == nil || p.Datasource.UID != "${datasource}" || len(p.Targets) == 0 {
				t.Errorf("panel %q: want the ${datasource} variable and at least one query", p.Title)
			}
			for i, tg := range p.Targets {
				q := strings.NewReplacer(`$job`, "vigil", "$__rate_interval", "15s", "$__range", "5m").Replace(tg.Expr)
				out[fmt.Sprintf("%s #%d", p.Title, i+1)] = q
			}
		}
	}
	walk(dash.Panels)
	return out
}

// TestDashboardAgainstPrometheus runs the demo, a real Prometheus scraping it with the shipped
// scrape configuration (at a 1s interval), and checks that every query of the shipped dashboard
// returns data, and that Vigil's metrics pass client_golang's lint.
func TestDashboardAgainstPrometheus(t *testing.T) {
	queries := dashboardQueries(t)
	if len(queries) < 20 {
		t.Fatalf("only %d dashboard queries", len(queries))
	}
	bin, err := exec.LookPath("prometheus")
	if err != nil {
		t.Skip("prometheus not installed (Debian package prometheus; .ci/run installs it)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	started := make(chan string, 1)
	demoDone := make(chan error, 1)
	go func() {
		_, err := RunResult(ctx, Options{MetricsAddr: "127.0.0.1:0", Rate: 1000, AttackAt: time.Second, JSON: true,
			Out: io.Discard, Log: io.Discard, Quiet: true, started: started})
		demoDone <- err
	}()
	var vigilAddr string
	select {
	case vigilAddr = <-started:
	case err := <-demoDone:
		t.Fatalf("demo: %v", err)
	}
	defer func() {
		cancel()
		<-demoDone
	}()

	// The shipped scrape configuration, pointed at the demo and scraping every second.
	conf, err := os.ReadFile(filepath.Join("..", "deploy", "prometheus", "prometheus.yml"))
	if err != nil {
		t.Fatal(err)
	}
	text := strings.NewReplacer("127.0.0.1:9464", vigilAddr, "scrape_interval: 15s", "scrape_interval: 1s",
		"scrape_timeout: 10s", "scrape_timeout: 1s", "evaluation_interval: 15s", "evaluation_interval: 1s").Replace(string(conf))
	if !strings.Contains(text, vigilAddr) || strings.Contains(text, "15s") {
		t.Fatalf("could not adapt the scrape configuration:\n%s", text)
	}
	dir := t.TempDir()
	confPath := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(confPath, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	promAddr := freeAddr(t)
	var plog strings.Builder
	cmd := exec.CommandContext(ctx, bin, "--config.file="+confPath, "--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+promAddr, "--log.level=warn")
	cmd.Stdout, cmd.Stderr = &plog, &plog
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		cmd.Process.Signal(os.Interrupt)
		cmd.Wait()
	}()

	// promlint on what Prometheus scrapes.
	resp, err := http.Get("http://" + vigilAddr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	problems, err := promlint.New(resp.Body).Lint()
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("promlint: %s: %s", p.Metric, p.Text)
	}

	// Every dashboard query returns data within the deadline.
	pending := queries
	deadline := time.Now().Add(75 * time.Second)
	for len(pending) > 0 && time.Now().Before(deadline) {
		next := map[string]string{}
		for name, q := range pending {
			n, err := instantQuery(promAddr, q)
			if err != nil {
				if strings.Contains(err.Error(), "bad_data") {
					t.Errorf("%s: Prometheus rejects %s: %v", name, q, err)
					continue
				}
				next[name] = q // not up yet
				continue
			}
			if n == 0 {
				next[name] = q
			}
		}
		pending = next
		if len(pending) > 0 {
			time.Sleep(time.Second)
		}
	}
	for name, q := range pending {
		t.Errorf("panel %s: no data for %s", name, q)
	}
	if t.Failed() {
		t.Logf("prometheus log:\n%s", plog.String())
	}
}

// instantQuery runs q on Prometheus and returns the number of series or samples it returned.
func instantQuery(addr, q string) (int, error) {
	resp, err := http.Get("http://" + addr + "/api/v1/query?query=" + url.QueryEscape(q))
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	var r struct {
		Status    string `json:"status"`
		ErrorType string `json:"errorType"`
		Error     string `json:"error"`
		Data      struct {
			Result json.RawMessage `json:"result"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		return 0, err
	}
	if r.Status != "success" {
		return 0, fmt.Errorf("%s: %s", r.ErrorType, r.Error)
	}
	var series []json.RawMessage
	if err := json.Unmarshal(r.Data.Result, &series); err != nil {
		return 1, nil // a scalar
	}
	// A series whose only value is NaN (a quantile of an empty histogram) is not data.
	n := 0
	for _, s := range series {
		if !strings.Contains(string(s), `"NaN"`) {
			n++
		}
	}
	return n, nil
}

func freeAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}
