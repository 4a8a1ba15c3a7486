package main

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/vigil-detect/vigil/bench"
)

// benchArgs runs every lane quickly: tiny lanes, short durations, a high hit rate; the test rules
// of package bench cover the lanes the starter rules do not (files, registry, proxy).
func benchArgs(extra ...string) []string {
	return append([]string{"bench", "--quiet",
		"--rules", "builtin:starter", "--rules", filepath.Join("..", "..", "bench", "testdata", "rules"),
		"--events", "300", "--hit-rate", "0.2", "--duration", "20ms", "--sigma-go-duration", "20ms", "--e2e-records", "1"}, extra...)
}

// TestBenchEveryModeAndLane runs `vigil bench --json` in every mode (e2e against kfake on
// 127.0.0.1) over every lane and checks the report: one result per lane and mode, throughput
// and latency measured, and alerts wherever suspicious events were mixed in.
func TestBenchEveryModeAndLane(t *testing.T) {
	code, out, errOut := run(benchArgs("--json")...)
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, errOut)
	}
	var rep bench.Report
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("report is not JSON: %v\n%s", err, out)
	}
	m := rep.Machine
	if m.Cores < 1 || m.GOMAXPROCS < 1 || !strings.HasPrefix(m.Go, "go") || m.CPU == "" {
		t.Errorf("machine %+v", m)
	}
	if rep.Rules.Detection < 15 || rep.Rules.Errors != 0 || rep.Rules.SigmaGo == nil || rep.Rules.SigmaGo.Parsed == 0 {
		t.Errorf("rules %+v", rep.Rules)
	}
	lanes := bench.LaneNames()
	if len(rep.Lanes) != len(lanes) {
		t.Fatalf("%d lanes in the report, want %d", len(rep.Lanes), len(lanes))
	}
	for i, l := range rep.Lanes {
		if l.Name != lanes[i] || l.Events != 300 || l.Bytes <= 0 || l.HitRate != 0.2 {
			t.Errorf("lane %+v", l)
		}
		if l.Injected == 0 || l.MatchedEvents == 0 || l.Alerts == 0 || l.MeasuredHitRate <= 0 || len(l.TopRules) == 0 {
			t.Errorf("lane %s: nothing detected: %+v", l.Name, l)
		}
	}
	if len(rep.Results) != len(lanes)*len(bench.AllModes) {
		t.Fatalf("%d results, want %d", len(rep.Results), len(lanes)*len(bench.AllModes))
	}
	for i, r := range rep.Results {
		lane, mode := lanes[i/len(bench.AllModes)], bench.AllModes[i%len(bench.AllModes)]
		if r.Lane != lane || r.Mode != mode {
			t.Fatalf("result %d is %s/%s, want %s/%s", i, r.Lane, r.Mode, lane, mode)
		}
		name := lane + "/" + mode
		if r.Events <= 0 || r.Seconds <= 0 || r.EventsPerSec <= 0 || r.MBPerSec <= 0 || r.Rejected != 0 {
			t.Errorf("%s: %+v", name, r)
		}
		if mode != bench.ModeSigmaGo && r.Events < 300 {
			t.Errorf("%s: %d events, want at least one full pass", name, r.Events)
		}
		if r.Latency.P50 <= 0 || r.Latency.P99 < r.Latency.P50 || r.Latency.Samples == 0 {
			t.Errorf("%s: latency %+v", name, r.Latency)
		}
		wantUnit := "event"
		if mode == bench.ModeE2E {
			wantUnit = "batch"
		}
		if r.Latency.Unit != wantUnit {
			t.Errorf("%s: latency per %q", name, r.Latency.Unit)
		}
		switch mode {
		case bench.ModeDecode, bench.ModeBaseline:
			if r.Alerts != -1 {
				t.Errorf("%s: alerts %d, want -1 (not matching)", name, r.Alerts)
			}
		case bench.ModeDetect1, bench.ModeDetectN, bench.ModeE2E:
			if r.Alerts <= 0 {
				t.Errorf("%s: no alerts at hit rate 0.2", name)
			}
		}
		if mode == bench.ModeE2E {
			// One pass through Kafka: exactly the lane's matches, and alerts written to the topic
			// (what the stages pass on: correlation withholds some detections and adds its own).
			if r.Events != 300 || r.Alerts != rep.Lanes[i/len(bench.AllModes)].Alerts || r.E2E == nil || r.E2E.AlertsWritten <= 0 {
				t.Errorf("%s: %+v %+v", name, r, r.E2E)
			}
			// The first 50 records (a sixth) are the untimed warm-up, unless the batch that
			// crossed it held every record; the rate is of the records after it.
			if w := r.E2E.WarmupRecords; w != 0 && (w < 50 || w >= r.Events) {
				t.Errorf("%s: %d warm-up records of %d", name, w, r.Events)
			}
			if timed := float64(r.Events - r.E2E.WarmupRecords); math.Abs(r.EventsPerSec*r.Seconds-timed) > 1 {
				t.Errorf("%s: %.0f events/s over %.3fs, want %.0f records timed", name, r.EventsPerSec, r.Seconds, timed)
			}
		}
		if mode == bench.ModeSigmaGo && r.SigmaGo == nil {
			t.Errorf("%s: no comparison with Vigil", name)
		}
	}
	var names []string
	for _, q := range rep.Ratios {
		if q.Value <= 0 {
			t.Errorf("ratio %+v", q)
		}
		names = append(names, q.Lane+" "+q.Name)
	}
	for _, want := range []string{"process detect-1/baseline", "proxy detect-1/sigma-go", "mixed e2e/baseline"} {
		if !slices.Contains(names, want) {
			t.Errorf("no ratio %q in %v", want, names)
		}
	}
}

// TestBenchTableAndInput runs the text report over an NDJSON file.
func TestBenchTableAndInput(t *testing.T) {
	dir := t.TempDir()
	input := filepath.Join(dir, "events.ndjson")
	lines := `{"Channel":"Microsoft-Windows-Sysmon/Operational","EventID":1,"Image":"C:\\Windows\\System32\\whoami.exe","CommandLine":"whoami  /all","ParentImage":"C:\\Windows\\System32\\cmd.exe"}` + "\r\n\n" +
		`{"Channel":"Microsoft-Windows-Sysmon/Operational","EventID":1,"Image":"C:\\Windows\\System32\\notepad.exe","CommandLine":"notepad"}` + "\n" +
		`not json` + "\n"
	if err := os.WriteFile(input, []byte(lines), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := run("bench", "--quiet", "--input", input, "--mode", "decode,detect-1", "--mode", "baseline", "--duration", "10ms")
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, errOut)
	}
	for _, want := range []string{"machine: ", "rules:   builtin:starter", "lane", "events/s", "allocs/ev", "p99",
		"events  detect-1", "from " + input, "measured 33.33% of events matched", "1 rejected", "Whoami Executed With The /all Flag",
		"detect-1/baseline"} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
	if code, _, errOut := run("bench", "--mode", "nosuch"); code != 1 || !strings.Contains(errOut, `unknown mode "nosuch"`) {
		t.Errorf("unknown mode: exit %d %q", code, errOut)
	}
	if code, _, errOut := run("bench", "--lane", "nosuch"); code != 1 || !strings.Contains(errOut, `unknown lane "nosuch"`) {
		t.Errorf("unknown lane: exit %d %q", code, errOut)
	}
}
