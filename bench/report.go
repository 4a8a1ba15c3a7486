package bench

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// Report is the outcome of a benchmark run; Write and WriteJSON render it.
type Report struct {
	Vigil    string     `json:"vigil_version"`
	Commit   string     `json:"vigil_commit,omitempty"` // VCS revision the binary was built from, when known
	Started  time.Time  `json:"started"`
	Machine  Machine    `json:"machine"`
	Rules    RulesInfo  `json:"rules"`
	Settings Settings   `json:"settings"`
	Lanes    []LaneInfo `json:"lanes"`
	Results  []Result   `json:"results"`
	Ratios   []Ratio    `json:"ratios"`
	Notes    []string   `json:"notes,omitempty"`
}

// Machine describes where the run happened.
type Machine struct {
	CPU        string `json:"cpu"`
	Cores      int    `json:"cores"`
	GOMAXPROCS int    `json:"gomaxprocs"`
	Go         string `json:"go"`
	OS         string `json:"os"`
	Arch       string `json:"arch"`
	// Load averages (1, 5, 15 minutes) when the run started and ended: the machine may be
	// shared, and a busy one slows every mode.
	LoadStart string `json:"loadavg_start,omitempty"`
	LoadEnd   string `json:"loadavg_end,omitempty"`
}

// RulesInfo describes the rule set.
type RulesInfo struct {
	Paths          []string     `json:"paths"`
	Files          int          `json:"files"`
	Detection      int          `json:"detection_rules"` // compiled
	Correlation    int          `json:"correlation_rules"`
	Errors         int          `json:"errors"` // files or rules that did not load or compile
	CompileSeconds float64      `json:"compile_seconds"`
	CorpusCommit   string       `json:"corpus_commit,omitempty"` // COMMIT file beside the rule directories
	SigmaGo        *SigmaGoInfo `json:"sigma_go,omitempty"`
}

// SigmaGoInfo says how much of the rule set sigma-go's evaluator runs.
type SigmaGoInfo struct {
	Files       int      `json:"files"`  // rule files of detection rules given to sigma-go's parser
	Parsed      int      `json:"parsed"` // rules it parsed and evaluates
	ParseErrors int      `json:"parse_errors"`
	Aggregation int      `json:"aggregation"` // parsed but left out: legacy aggregation conditions need callbacks
	EvalErrors  int      `json:"eval_errors"` // evaluated rules that returned an error on some event (their matches are lost)
	Panics      int      `json:"panics"`      // evaluated rules that panicked (dropped from then on)
	Examples    []string `json:"examples,omitempty"`
}

// Settings are the knobs of the run.
type Settings struct {
	Modes           []string      `json:"modes"`
	Events          int           `json:"events_per_lane"`
	HitRate         float64       `json:"hit_rate"`
	Seed            int64         `json:"seed"`
	Duration        time.Duration `json:"duration_ns"`
	SigmaGoDuration time.Duration `json:"sigma_go_duration_ns"`
	Workers         int           `json:"workers"`
	Partitions      int           `json:"partitions"`
	Input           string        `json:"input,omitempty"`
}

// LaneInfo describes a lane and what the rules found in it (one untimed pass).
type LaneInfo struct {
	Name            string      `json:"name"`
	Source          string      `json:"source"` // "generated" or the input file
	Events          int         `json:"events"`
	Bytes           int64       `json:"bytes"`
	HitRate         float64     `json:"hit_rate_requested"` // -1 for input files
	Injected        int64       `json:"hits_injected"`      // suspicious events the generator put in
	MatchedEvents   int64       `json:"matched_events"`     // events at least one rule matched
	Alerts          int64       `json:"alerts"`             // rule matches
	MeasuredHitRate float64     `json:"hit_rate_measured"`  // matched events / events
	AlertsPerEvent  float64     `json:"alerts_per_event"`
	Rejected        int64       `json:"rejected"` // events that are not valid JSON objects
	TopRules        []RuleCount `json:"top_rules"`
}

// RuleCount is how often one rule matched in a lane.
type RuleCount struct {
	Title   string `json:"title"`
	Path    string `json:"path"`
	Matches int64  `json:"matches"`
}

// Result is one mode over one lane.
type Result struct {
	Lane           string  `json:"lane"`
	Mode           string  `json:"mode"`
	Events         int64   `json:"events"`
	Seconds        float64 `json:"seconds"`
	EventsPerSec   float64 `json:"events_per_sec"`
	MBPerSec       float64 `json:"mb_per_sec"` // 10^6 bytes of event JSON per second
	Alerts         int64   `json:"alerts"`     // rule matches; -1 where the mode does not match (decode, baseline)
	AllocsPerEvent float64 `json:"allocs_per_event"`
	Latency        Latency `json:"latency"`
	Rejected       int64   `json:"rejected,omitempty"`
	E2E            *E2E    `json:"e2e,omitempty"`
	SigmaGo        *SGRun  `json:"sigma_go,omitempty"`
}

// Latency is the p50 and p99 of a mode's unit of work.
type Latency struct {
	Unit    string        `json:"unit"` // "event" or "batch"
	Sampled string        `json:"sampled"`
	Samples int64         `json:"samples"`
	P50     time.Duration `json:"p50_ns"`
	P99     time.Duration `json:"p99_ns"`
	Mean    time.Duration `json:"mean_ns"`
}

// E2E holds the phases of the end-to-end mode.
type E2E struct {
	Partitions       int           `json:"partitions"`
	LaneCopies       int           `json:"lane_copies"`     // times the lane was produced (to at least Config.E2ERecords records)
	ProduceSeconds   float64       `json:"produce_seconds"` // producing the lane into the topic (not timed)
	JoinSeconds      float64       `json:"join_seconds"`    // pipeline start to first records fetched (group join)
	WarmupRecords    int64         `json:"warmup_records"`  // done before the timed part (see e2eWarmup)
	WarmupSeconds    float64       `json:"warmup_seconds"`  // first records fetched to warm-up records done
	TotalSeconds     float64       `json:"total_seconds"`   // pipeline start to last offset committed
	EventsPerSecWall float64       `json:"events_per_sec_with_join"`
	AlertsWritten    int64         `json:"alerts_written"` // to the alerts topic: detections not withheld for correlation, plus correlation and risk alerts
	Batches          int64         `json:"batches"`        // batches fetched by the pipeline
	MeanBatch        float64       `json:"mean_batch"`
	SinkWrites       int64         `json:"sink_writes"` // non-empty writes to the alerts topic
	SinkWriteP50     time.Duration `json:"sink_write_p50_ns"`
	SinkWriteP99     time.Duration `json:"sink_write_p99_ns"`
	Commits          int64         `json:"commits"`
	CommitP50        time.Duration `json:"commit_p50_ns"`
	CommitP99        time.Duration `json:"commit_p99_ns"`
}

// SGRun compares sigma-go's matches with Vigil's on the same events.
type SGRun struct {
	VigilAlerts int64 `json:"vigil_alerts_same_events"` // Vigil's matches on the events sigma-go evaluated
	EvalErrors  int64 `json:"eval_errors"`              // rule evaluations that returned an error
}

// Ratio compares two modes on a lane: A's events/s over B's.
type Ratio struct {
	Lane  string  `json:"lane"`
	Name  string  `json:"name"` // "detect-1/baseline"...
	Value float64 `json:"value"`
}

func machine() Machine {
	return Machine{
		CPU:        cpuModel(),
		Cores:      runtime.NumCPU(),
		GOMAXPROCS: runtime.GOMAXPROCS(0),
		Go:         runtime.Version(),
		OS:         runtime.GOOS,
		Arch:       runtime.GOARCH,
		LoadStart:  loadAvg(),
	}
}

// loadAvg reads the three load averages of /proc/loadavg ("" elsewhere).
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return ""
	}
	return strings.Join(f[:3], " ")
}

// cpuModel reads the first "model name" of /proc/cpuinfo.
func cpuModel() string {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return "unknown"
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown"
}

// buildCommit is the VCS revision stamped into the binary, when there is one.
func buildCommit() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return ""
	}
	rev, dirty := "", false
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	if rev != "" && dirty {
		rev += "+dirty"
	}
	return rev
}

// corpusCommit finds the COMMIT files of the rule paths' corpora (a rule directory or one of its
// parents up to three levels holds it, as ../shared/sigmahq/COMMIT does).
func corpusCommit(paths []string) string {
	var commits []string
	for _, p := range paths {
		abs, err := filepath.Abs(p)
		if err != nil {
			continue
		}
		for dir, i := abs, 0; i < 4; dir, i = filepath.Dir(dir), i+1 {
			b, err := os.ReadFile(filepath.Join(dir, "COMMIT"))
			if err == nil {
				c := strings.TrimSpace(string(b))
				if c != "" && !contains(commits, c) {
					commits = append(commits, c)
				}
				break
			}
		}
	}
	return strings.Join(commits, ",")
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// WriteJSON writes the report as one indented JSON document.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// Write writes the report as aligned text: a header, the results table, the lanes, the
// ratios and the notes.
func (r *Report) Write(w io.Writer) error {
	bw := bufio.NewWriter(w)
	m := r.Machine
	fmt.Fprintf(bw, "vigil bench  %s", r.Vigil)
	if r.Commit != "" {
		fmt.Fprintf(bw, " (%s)", r.Commit)
	}
	fmt.Fprintf(bw, "  %s\n", r.Started.UTC().Format(time.RFC3339))
	fmt.Fprintf(bw, "machine: %s, %d cores, GOMAXPROCS %d, %s %s/%s", m.CPU, m.Cores, m.GOMAXPROCS, m.Go, m.OS, m.Arch)
	if m.LoadStart != "" {
		fmt.Fprintf(bw, "; load average %s at start, %s at end", m.LoadStart, m.LoadEnd)
	}
	fmt.Fprintln(bw)
	ri := r.Rules
	fmt.Fprintf(bw, "rules:   %s: %d detection rules compiled (%d correlation, %d errors) in %.1fs",
		strings.Join(ri.Paths, " "), ri.Detection, ri.Correlation, ri.Errors, ri.CompileSeconds)
	if ri.CorpusCommit != "" {
		fmt.Fprintf(bw, "; corpus commit %s", ri.CorpusCommit)
	}
	fmt.Fprintln(bw)
	s := r.Settings
	fmt.Fprintf(bw, "method:  each mode runs at least one full pass over the lane and until %v (sigma-go: %v, partial pass); one untimed warm-up pass first (e2e: its first records, see below)\n",
		s.Duration, s.SigmaGoDuration)
	fmt.Fprintln(bw)

	// Lane and mode are left-aligned by padding them into the first cell; numbers align right.
	wl, wm := len("lane"), len("mode")
	for _, res := range r.Results {
		wl, wm = max(wl, len(res.Lane)), max(wm, len(res.Mode))
	}
	tw := tabwriter.NewWriter(bw, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "%-*s  %-*s\tevents\tevents/s\tMB/s\talerts\tallocs/ev\tp50\tp99\tper\t\n", wl, "lane", wm, "mode")
	for _, res := range r.Results {
		alerts := "-"
		if res.Alerts >= 0 {
			alerts = strconv.FormatInt(res.Alerts, 10)
		}
		fmt.Fprintf(tw, "%-*s  %-*s\t%d\t%s\t%.1f\t%s\t%.2f\t%s\t%s\t%s\t\n", wl, res.Lane, wm, res.Mode, res.Events,
			group(res.EventsPerSec), res.MBPerSec, alerts, res.AllocsPerEvent,
			dur(res.Latency.P50), dur(res.Latency.P99), res.Latency.Unit)
	}
	tw.Flush()
	fmt.Fprintln(bw, "\np50/p99 per event: one event in 8 (on average) timed alone; sigma-go: every event. Per batch (e2e): each fetched batch, fetch to alerts written.")

	fmt.Fprintln(bw, "\nlanes (one untimed pass of the compiled rules):")
	for _, l := range r.Lanes {
		fmt.Fprintf(bw, "  %-14s %d events, %.1f MB", l.Name, l.Events, float64(l.Bytes)/1e6)
		if l.HitRate >= 0 {
			fmt.Fprintf(bw, "; hit rate requested %s, injected %s", pct(l.HitRate), pct(float64(l.Injected)/float64(max(l.Events, 1))))
		} else {
			fmt.Fprintf(bw, " from %s", l.Source)
		}
		fmt.Fprintf(bw, ", measured %s of events matched (%d alerts, %.3f per event)", pct(l.MeasuredHitRate), l.Alerts, l.AlertsPerEvent)
		if l.Rejected > 0 {
			fmt.Fprintf(bw, "; %d rejected", l.Rejected)
		}
		fmt.Fprintln(bw)
		for _, rc := range l.TopRules {
			fmt.Fprintf(bw, "  %14s %7d  %s\n", "", rc.Matches, rc.Title)
		}
	}
	if len(r.Ratios) > 0 {
		fmt.Fprintln(bw, "\nratios (events/s):")
		for _, q := range r.Ratios {
			fmt.Fprintf(bw, "  %-14s %-20s %.2fx\n", q.Lane, q.Name, q.Value)
		}
	}
	if sg := r.Rules.SigmaGo; sg != nil {
		fmt.Fprintf(bw, "\nsigma-go v0.6.6 evaluator: %d of %d rule files parsed and evaluated (%d parse errors, %d with aggregations left out); %d rules returned evaluation errors, %d panicked\n",
			sg.Parsed, sg.Files, sg.ParseErrors, sg.Aggregation, sg.EvalErrors, sg.Panics)
	}
	for _, res := range r.Results {
		if e := res.E2E; e != nil {
			copies := ""
			if e.LaneCopies > 1 {
				copies = fmt.Sprintf(" (the lane %d times over)", e.LaneCopies)
			}
			fmt.Fprintf(bw, "e2e %s: %d records%s produced in %.1fs to %d partitions; group join %.2fs; warm-up (untimed) %d records in %.2fs, then %d records in %.2fs to the last commit; start to last commit %.2fs = %s events/s with join and warm-up; %d alerts written to Kafka\n",
				res.Lane, res.Events, copies, e.ProduceSeconds, e.Partitions, e.JoinSeconds, e.WarmupRecords, e.WarmupSeconds,
				res.Events-e.WarmupRecords, res.Seconds, e.TotalSeconds, group(e.EventsPerSecWall), e.AlertsWritten)
			fmt.Fprintf(bw, "    %d batches of %.0f records on average; %d alert writes, p50 %s p99 %s; %d commits, p50 %s p99 %s\n",
				e.Batches, e.MeanBatch, e.SinkWrites, dur(e.SinkWriteP50), dur(e.SinkWriteP99), e.Commits, dur(e.CommitP50), dur(e.CommitP99))
		}
		if sg := res.SigmaGo; sg != nil {
			fmt.Fprintf(bw, "sigma-go %s: %d matches on %d events (Vigil: %d on the same events); %d rule evaluations returned errors\n",
				res.Lane, res.Alerts, res.Events, sg.VigilAlerts, sg.EvalErrors)
		}
	}
	for _, n := range r.Notes {
		fmt.Fprintln(bw, "note:", n)
	}
	return bw.Flush()
}

// group formats v with thousands separators.
func group(v float64) string {
	s := strconv.FormatInt(int64(v+0.5), 10)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

func pct(f float64) string { return strconv.FormatFloat(100*f, 'f', 2, 64) + "%" }

// dur formats a latency with three significant digits.
func dur(d time.Duration) string {
	switch {
	case d <= 0:
		return "-"
	case d < time.Microsecond:
		return fmt.Sprintf("%dns", d.Nanoseconds())
	case d < time.Millisecond:
		return strconv.FormatFloat(float64(d)/1e3, 'g', 3, 64) + "µs"
	case d < time.Second:
		return strconv.FormatFloat(float64(d)/1e6, 'g', 3, 64) + "ms"
	}
	return strconv.FormatFloat(d.Seconds(), 'g', 3, 64) + "s"
}
