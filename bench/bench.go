// Package bench measures Vigil: events per second, bandwidth, matches, allocations and latency
// of decoding, detection on one core and on all cores, and the whole pipeline through Kafka, over
// generated lanes of realistic events (package gen) or an NDJSON file, next to two yardsticks on
// the same events: a bare encoding/json parse and sigma-go's own evaluator. `vigil bench` runs it.
package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"runtime"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/vigil-detect/vigil/agent"
	"github.com/vigil-detect/vigil/config"
	"github.com/vigil-detect/vigil/pipeline"
)

// Modes, in the order they run.
const (
	ModeDecode   = "decode"   // event.Schema.Decode only, with the schema the rules need
	ModeDetect1  = "detect-1" // one goroutine, one detect.Matcher
	ModeDetectN  = "detect-N" // Workers goroutines, a Matcher each, over shares of the lane
	ModeE2E      = "e2e"      // the pipeline from a kfake topic to a Kafka alerts topic
	ModeBaseline = "baseline" // encoding/json.Unmarshal into map[string]any
	ModeSigmaGo  = "sigma-go" // sigma-go v0.6.6's evaluator, time-bounded
)

// AllModes lists every mode.
var AllModes = []string{ModeDecode, ModeDetect1, ModeDetectN, ModeE2E, ModeBaseline, ModeSigmaGo}

// Defaults of Config.
const (
	DefaultEvents     = 50000
	DefaultHitRate    = 0.01
	DefaultDuration   = 3 * time.Second
	DefaultPartitions = 3
	// DefaultE2ERecords is the fewest records an end-to-end run produces: a smaller lane (an
	// NDJSON file of a few thousand events) is produced as many times over as it takes, so that
	// the run measures the pipeline's throughput rather than its start-up and fetch latency. Its
	// first copy of the lane is the warm-up (see e2eWarmup); the rest, a few seconds' work, is
	// timed.
	DefaultE2ERecords = 300000
)

// Config says what to measure. Zero values mean the defaults.
type Config struct {
	Rules           []string       // rule files and directories (agent.LoadRules); empty: builtin:starter
	Settings        *config.Config // logsources, placeholders, pipeline settings; nil: config.Default()
	Lanes           []string       // generated lanes to run (see Lanes); empty: all
	Modes           []string       // empty: AllModes
	Input           string         // an NDJSON file to run instead of generated lanes
	Events          int            // events per generated lane (default DefaultEvents)
	HitRate         float64        // fraction of suspicious events in generated lanes (0: none)
	Seed            int64          // generator seed
	Duration        time.Duration  // per mode, after the first full pass (default DefaultDuration)
	SigmaGoDuration time.Duration  // sigma-go's time budget per lane (default Duration)
	Workers         int            // goroutines of detect-N (default GOMAXPROCS)
	Partitions      int            // partitions of the e2e topic (default DefaultPartitions)
	E2ERecords      int            // fewest records the e2e run produces (default DefaultE2ERecords)
	Log             *slog.Logger   // progress; nil: none
}

func (c *Config) defaults() error {
	if len(c.Rules) == 0 {
		c.Rules = []string{agent.BuiltinStarter}
	}
	if c.Settings == nil {
		c.Settings = config.Default()
	}
	if len(c.Lanes) == 0 {
		c.Lanes = LaneNames()
	}
	if len(c.Modes) == 0 {
		c.Modes = AllModes
	}
	for _, m := range c.Modes {
		if !slices.Contains(AllModes, m) {
			return fmt.Errorf("unknown mode %q (modes: %s)", m, strings.Join(AllModes, ", "))
		}
	}
	if c.Input == "" {
		for _, l := range c.Lanes {
			if _, ok := laneSpec(l); !ok {
				return fmt.Errorf("unknown lane %q (lanes: %s)", l, strings.Join(LaneNames(), ", "))
			}
		}
	}
	if c.Events <= 0 {
		c.Events = DefaultEvents
	}
	if c.HitRate < 0 || c.HitRate > 1 {
		return fmt.Errorf("hit rate %v: want a fraction between 0 and 1", c.HitRate)
	}
	if c.Duration <= 0 {
		c.Duration = DefaultDuration
	}
	if c.SigmaGoDuration <= 0 {
		c.SigmaGoDuration = c.Duration
	}
	if c.Workers <= 0 {
		c.Workers = runtime.GOMAXPROCS(0)
	}
	if c.E2ERecords <= 0 {
		c.E2ERecords = DefaultE2ERecords
	}
	if c.Partitions <= 0 {
		c.Partitions = DefaultPartitions
	}
	if c.Log == nil {
		c.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return nil
}

// Run compiles the rules once and measures every selected mode on every lane.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	log := cfg.Log
	rep := &Report{
		Vigil:   agent.Version,
		Commit:  buildCommit(),
		Started: time.Now(),
		Machine: machine(),
		Settings: Settings{
			Modes: cfg.Modes, Events: cfg.Events, HitRate: cfg.HitRate, Seed: cfg.Seed,
			Duration: cfg.Duration, SigmaGoDuration: cfg.SigmaGoDuration,
			Workers: cfg.Workers, Partitions: cfg.Partitions, Input: cfg.Input,
		},
	}

	log.Info("compiling rules", "paths", cfg.Rules)
	t0 := time.Now()
	// Compiled as the agent compiles them, so every mode runs the rule set `vigil run` would.
	settings := *cfg.Settings
	settings.Rules = cfg.Rules
	cfg.Settings = &settings
	rs, err := agent.CompileRules(&settings)
	if err != nil {
		return nil, err
	}
	opts, err := agent.RuleOptions(&settings)
	if err != nil {
		return nil, err
	}
	set := rs.Set
	rep.Rules = RulesInfo{
		Paths: cfg.Rules, Files: set.Files, Detection: len(rs.Detect.Rules), Correlation: len(set.Correlations),
		Errors: len(rs.Errors()), CompileSeconds: time.Since(t0).Seconds(), CorpusCommit: corpusCommit(cfg.Rules),
	}
	if len(rs.Detect.Rules) == 0 {
		return nil, errors.New("no detection rule compiled: nothing to measure")
	}
	log.Info("rules compiled", "detection", len(rs.Detect.Rules), "errors", len(rs.Errors()), "seconds", rep.Rules.CompileSeconds)

	var sg *sigmaGo
	if slices.Contains(cfg.Modes, ModeSigmaGo) {
		sg, err = newSigmaGo(set, opts.Detect.Logsources, opts.Detect.NoRouting)
		if err != nil {
			return nil, err
		}
		rep.Rules.SigmaGo = &sg.info
	}

	var specs []func() (*lane, error)
	if cfg.Input != "" {
		specs = append(specs, func() (*lane, error) { return readLane(cfg.Input) })
	} else {
		for _, name := range cfg.Lanes {
			spec, _ := laneSpec(name)
			specs = append(specs, func() (*lane, error) { return generate(spec, cfg.Events, cfg.HitRate, cfg.Seed), nil })
		}
	}
	for _, next := range specs {
		l, err := next()
		if err != nil {
			return nil, err
		}
		log.Info("lane", "name", l.name, "events", l.len(), "bytes", l.bytes())
		// Every mode replays the lane: in a short one every value recurs, which says nothing
		// about the value cache on a real stream, so it is off there.
		cached := l.len() >= minCachedLane
		rs.Detect.CacheValues(cached)
		if !cached {
			rep.Notes = append(rep.Notes, fmt.Sprintf("lane %s: %d events, replayed: the value cache is off (it is on for lanes of %d events or more, whose values do not all recur)", l.name, l.len(), minCachedLane))
		}
		rep.Lanes = append(rep.Lanes, survey(rs, l))
		for _, mode := range cfg.Modes {
			if err := ctx.Err(); err != nil {
				return rep, err
			}
			runtime.GC()
			var res Result
			switch mode {
			case ModeDecode:
				res = runDecode(rs, opts.Detect.Limits, l, cfg.Duration)
			case ModeDetect1:
				res = runDetect1(rs, l, cfg.Duration)
			case ModeDetectN:
				res = runDetectN(rs, l, cfg.Duration, cfg.Workers)
			case ModeE2E:
				res, err = runE2E(ctx, rs, l, &cfg)
			case ModeBaseline:
				res = runBaseline(l, cfg.Duration)
			case ModeSigmaGo:
				res = sg.run(ctx, rs, l, cfg.SigmaGoDuration)
			}
			if err != nil {
				return rep, fmt.Errorf("lane %s, mode %s: %w", l.name, mode, err)
			}
			res.Lane, res.Mode = l.name, mode
			log.Info("measured", "lane", l.name, "mode", mode, "events", res.Events, "events_per_sec", int64(res.EventsPerSec), "alerts", res.Alerts)
			rep.Results = append(rep.Results, res)
		}
		rep.Ratios = append(rep.Ratios, ratios(l.name, rep.Results)...)
	}
	if sg != nil {
		sg.finish()
	}
	rep.Machine.LoadEnd = loadAvg()
	if cfg.Input == "" && cfg.HitRate > 0 {
		rep.Notes = append(rep.Notes, "measured hit rates include the background's own matches: with hunting rules (rules-threat-hunting) benign events match too")
	}
	return rep, nil
}

// minCachedLane is the shortest lane the value cache is on for.
const minCachedLane = 20000

// survey makes one untimed pass (also warming caches): which events match, and which rules.
func survey(rs *pipeline.Ruleset, l *lane) LaneInfo {
	m := rs.Detect.NewMatcher()
	info := LaneInfo{Name: l.name, Source: l.source, Events: l.len(), Bytes: l.bytes(), HitRate: l.hitRate, Injected: l.injected}
	counts := make([]int64, len(rs.Detect.Rules))
	for i := range l.len() {
		hits, err := m.Match(l.event(i))
		if err != nil {
			info.Rejected++
			continue
		}
		if len(hits) > 0 {
			info.MatchedEvents++
		}
		info.Alerts += int64(len(hits))
		for _, h := range hits {
			counts[h]++
		}
	}
	n := float64(max(l.len(), 1))
	info.MeasuredHitRate = float64(info.MatchedEvents) / n
	info.AlertsPerEvent = float64(info.Alerts) / n
	order := make([]int, 0, len(counts))
	for i, c := range counts {
		if c > 0 {
			order = append(order, i)
		}
	}
	sort.SliceStable(order, func(a, b int) bool { return counts[order[a]] > counts[order[b]] })
	for _, i := range order[:min(len(order), 5)] {
		r := rs.Detect.Rules[i]
		info.TopRules = append(info.TopRules, RuleCount{Title: r.Title, Path: r.Path, Matches: counts[i]})
	}
	// A short lane is replayed until the engine has seen enough of each kind of event to narrow
	// its index for it (see detect/narrow.go): the modes time the steady state.
	for i := l.len(); i < surveyMin && l.len() > 0; i++ {
		m.Match(l.event(i % l.len()))
	}
	rs.Detect.WaitNarrowing()
	return info
}

// surveyMin is the fewest events the survey matches, replaying a shorter lane.
const surveyMin = 2000

// ratios compares the lane's modes with the yardsticks.
func ratios(laneName string, results []Result) []Ratio {
	rate := map[string]float64{}
	for _, r := range results {
		if r.Lane == laneName && r.EventsPerSec > 0 {
			rate[r.Mode] = r.EventsPerSec
		}
	}
	var out []Ratio
	for _, p := range [][2]string{
		{ModeDecode, ModeBaseline}, {ModeDetect1, ModeBaseline}, {ModeDetectN, ModeBaseline}, {ModeE2E, ModeBaseline},
		{ModeDetect1, ModeSigmaGo}, {ModeDetectN, ModeSigmaGo},
	} {
		a, b := rate[p[0]], rate[p[1]]
		if a > 0 && b > 0 {
			out = append(out, Ratio{Lane: laneName, Name: p[0] + "/" + p[1], Value: a / b})
		}
	}
	return out
}
