package main

import (
	"io"
	"os"
	"runtime/pprof"
	"strings"

	"github.com/vigil-detect/vigil/agent"
	"github.com/vigil-detect/vigil/bench"
	"github.com/vigil-detect/vigil/config"
)

func cmdBench(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("bench", "[--rules PATH]... [--lane L]... [--mode M]... [--input FILE] [flags]",
		"Measures Vigil on generated lanes of realistic events (or an NDJSON file): events/s, MB/s,\n"+
			"alerts, allocations per event and p50/p99 latency of decoding, detection on one core and\n"+
			"on all cores, and the whole pipeline through an embedded Kafka broker, next to a bare\n"+
			"encoding/json parse and sigma-go's evaluator on the same events.\n\n"+
			"Lanes: "+strings.Join(bench.LaneNames(), ", ")+".\n"+
			"Modes: "+strings.Join(bench.AllModes, ", ")+".", stderr)
	load := configFlags(fs) // logsources, placeholders, field mappings, pipeline settings
	var rulePaths, lanes, modes listFlag
	fs.Var(&rulePaths, "rules", "rule file or directory (repeatable; default "+agent.BuiltinStarter+")")
	fs.Var(&lanes, "lane", "lane to run (repeatable or comma-separated; default all)")
	fs.Var(&modes, "mode", "mode to run (repeatable or comma-separated; default all)")
	input := fs.String("input", "", "NDJSON file of events to run instead of the generated lanes")
	events := fs.Int("events", bench.DefaultEvents, "events per generated lane")
	hitRate := fs.Float64("hit-rate", bench.DefaultHitRate, "fraction of generated events drawn from the catalogue of suspicious events")
	seed := fs.Int64("seed", 1, "generator seed")
	duration := fs.Duration("duration", bench.DefaultDuration, "time per mode after its first full pass over the lane")
	sigmaGoDuration := fs.Duration("sigma-go-duration", 0, "time budget of the sigma-go mode per lane (default --duration)")
	workers := fs.Int("workers", 0, "goroutines of detect-N (default GOMAXPROCS)")
	partitions := fs.Int("partitions", bench.DefaultPartitions, "partitions of the e2e topic")
	e2eRecords := fs.Int("e2e-records", bench.DefaultE2ERecords, "fewest records the e2e run produces: a smaller lane is produced over again, its first copy an untimed warm-up")
	jsonOut := fs.Bool("json", false, "print the report as JSON")
	quiet := fs.Bool("quiet", false, "no progress on stderr")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the run to this file (go tool pprof)")
	if code, ok := parse(fs, args); !ok {
		return code
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return 2
	}
	cfg, ok := load(stderr)
	if !ok || !finishConfig(cfg, stderr) {
		return 2
	}
	if len(rulePaths) == 0 {
		rulePaths = cfg.Rules
	}
	log := agent.Logger(cfg, stderr)
	if *quiet {
		log = agent.Logger(&config.Config{Log: config.Log{Level: "error"}}, stderr)
	}
	ctx, stop := signalContext()
	defer stop()
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return fail(stderr, err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return fail(stderr, err)
		}
		defer pprof.StopCPUProfile()
	}
	rep, err := bench.Run(ctx, bench.Config{
		Rules: rulePaths, Settings: cfg,
		Lanes: splitAll(lanes), Modes: splitAll(modes), Input: *input,
		Events: *events, HitRate: *hitRate, Seed: *seed,
		Duration: *duration, SigmaGoDuration: *sigmaGoDuration,
		Workers: *workers, Partitions: *partitions, E2ERecords: *e2eRecords, Log: log,
	})
	if err != nil {
		return fail(stderr, err)
	}
	if *jsonOut {
		err = rep.WriteJSON(stdout)
	} else {
		err = rep.Write(stdout)
	}
	if err != nil {
		return fail(stderr, err)
	}
	return 0
}

// splitAll splits comma-separated flag values.
func splitAll(l listFlag) []string {
	var out []string
	for _, v := range l {
		out = append(out, config.SplitList(v)...)
	}
	return out
}
