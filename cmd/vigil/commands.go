package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"strings"

	"github.com/vigil-detect/vigil/agent"
	"github.com/vigil-detect/vigil/broker"
	"github.com/vigil-detect/vigil/config"
	"github.com/vigil-detect/vigil/demo"
)

func loadConfig(path string, stderr io.Writer) (*config.Config, bool) {
	cfg, err := config.Load(path)
	if err != nil {
		fmt.Fprintln(stderr, "vigil:", err)
		return nil, false
	}
	return cfg, true
}

func cmdEval(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("eval", "[--config FILE] [--rules PATH]... [FILE|-]",
		"Reads NDJSON events (one JSON object per line) from FILE or stdin, runs detection, correlation,\n"+
			"scoring and response, and writes alerts as NDJSON to stdout. Lines that are not JSON objects\n"+
			"are reported on stderr with their line number and skipped.", stderr)
	cfgPath := fs.String("config", "", "configuration file")
	var rulePaths listFlag
	fs.Var(&rulePaths, "rules", "rule file or directory (repeatable; replaces the config's rules)")
	if code, ok := parse(fs, args); !ok {
		return code
	}
	cfg, ok := loadConfig(*cfgPath, stderr)
	if !ok {
		return 2
	}
	if len(rulePaths) > 0 {
		cfg.Rules = rulePaths
	}
	if len(cfg.Rules) == 0 {
		cfg.Rules = []string{agent.BuiltinStarter}
	}
	log := agent.Logger(cfg, stderr)
	ctx, stop := signalContext()
	defer stop()
	stats, err := agent.Eval(ctx, cfg, fs.Args(), os.Stdin, stdout, log)
	if err != nil {
		return fail(stderr, err)
	}
	log.Info("done", "events", stats.Records.Load(), "alerts", stats.Alerts.Load(), "rejected", stats.Rejected.Load())
	return 0
}

// addKafkaFlags registers the flags that override the Kafka part of the configuration.
func addKafkaFlags(fs interface {
	String(name, value, usage string) *string
}) func(cfg *config.Config) {
	brokers := fs.String("brokers", "", "comma-separated Kafka brokers (overrides the config)")
	topic := fs.String("topic", "", "comma-separated input topics (overrides the config)")
	group := fs.String("group", "", "consumer group (overrides the config)")
	alerts := fs.String("alerts-topic", "", "topic alerts are produced to (overrides the config)")
	metricsAddr := fs.String("metrics-addr", "", "address for /metrics, /healthz, /readyz (default 127.0.0.1:9464; port 0 picks one)")
	return func(cfg *config.Config) {
		if *brokers != "" {
			cfg.Kafka.Brokers = config.SplitList(*brokers)
		}
		if *topic != "" {
			cfg.Kafka.Topics = config.SplitList(*topic)
		}
		if *group != "" {
			cfg.Kafka.Group = *group
		}
		if *alerts != "" {
			cfg.Kafka.AlertsTopic = *alerts
		}
		if *metricsAddr != "" {
			cfg.Metrics.Addr = *metricsAddr
		}
	}
}

func cmdRun(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("run", "--config FILE [flags]",
		"Consumes Kafka topics as a consumer group, runs the rules, produces alerts to the alerts topic\n"+
			"and commits offsets only after the alerts of the consumed records are written (at-least-once).\n"+
			"SIGINT or SIGTERM finishes the records in flight, commits and exits.", stderr)
	cfgPath := fs.String("config", "", "configuration file")
	var rulePaths listFlag
	fs.Var(&rulePaths, "rules", "rule file or directory (repeatable; replaces the config's rules)")
	stdoutAlerts := fs.Bool("stdout", false, "also write alerts to stdout as NDJSON")
	apply := addKafkaFlags(fs)
	if code, ok := parse(fs, args); !ok {
		return code
	}
	cfg, ok := loadConfig(*cfgPath, stderr)
	if !ok {
		return 2
	}
	apply(cfg)
	if len(rulePaths) > 0 {
		cfg.Rules = rulePaths
	}
	if *stdoutAlerts {
		cfg.Output.Stdout = true
	}
	if len(cfg.Rules) == 0 {
		cfg.Rules = []string{agent.BuiltinStarter}
	}
	log := agent.Logger(cfg, stderr)
	ctx, stop := signalContext()
	defer stop()
	a := &agent.Agent{Config: cfg, Log: log}
	if err := a.Run(ctx); err != nil {
		return fail(stderr, err)
	}
	return 0
}

func cmdBroker(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("broker", "[--addr 127.0.0.1:9092] [--topics a,b]",
		"Runs a local Kafka-protocol broker for development (franz-go kfake): any Kafka client works\n"+
			"against it. Topics are created at start. Not for production.", stderr)
	addr := fs.String("addr", "127.0.0.1:9092", "listen address")
	topics := fs.String("topics", "events,vigil-alerts,vigil-dead-letter", "comma-separated topics to create")
	partitions := fs.Int("partitions", 3, "partitions per topic")
	dataDir := fs.String("data-dir", "", "keep topics and offsets in this directory across restarts")
	if code, ok := parse(fs, args); !ok {
		return code
	}
	b, err := broker.Start(broker.Options{Addr: *addr, Topics: config.SplitList(*topics), Partitions: *partitions, DataDir: *dataDir})
	if err != nil {
		return fail(stderr, err)
	}
	fmt.Fprintf(stdout, "broker listening on %s; topics: %s (%d partitions each)\n", b.Addr, *topics, *partitions)
	ctx, stop := signalContext()
	defer stop()
	<-ctx.Done()
	b.Close()
	return 0
}

func cmdDemo(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("demo", "[--duration D] [--metrics-addr ADDR]",
		"Starts an embedded Kafka broker, produces a generated stream of Windows telemetry with an attack\n"+
			"story (password spraying, a brute force, then hands-on-keyboard activity), runs the agent with\n"+
			"the starter rules and prints alerts and response decisions as they happen.", stderr)
	duration := fs.Duration("duration", 0, "stop after this long (default: run until interrupted)")
	metricsAddr := fs.String("metrics-addr", "127.0.0.1:9464", "address for /metrics, /healthz, /readyz (port 0 picks one)")
	rate := fs.Float64("rate", 2000, "events per second to generate")
	seed := fs.Int64("seed", 1, "random seed of the generated stream")
	jsonOut := fs.Bool("json", false, "print alerts as NDJSON instead of the console view")
	if code, ok := parse(fs, args); !ok {
		return code
	}
	ctx, stop := signalContext()
	defer stop()
	if *duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, *duration)
		defer cancel()
	}
	err := demo.Run(ctx, demo.Options{MetricsAddr: *metricsAddr, Rate: *rate, Seed: *seed, JSON: *jsonOut, Out: stdout, Log: stderr})
	if err != nil {
		return fail(stderr, err)
	}
	return 0
}

func cmdLint(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("lint", "[--config FILE] PATH...",
		"Compiles every rule in the files and directories given. Prints one line per failing file\n"+
			"(path: reason), then 'N rules, M errors'. Exit status 1 when there are errors.", stderr)
	cfgPath := fs.String("config", "", "configuration file (placeholders, logsources)")
	verbose := fs.Bool("warnings", false, "also print warnings (unmapped logsources, unknown placeholders)")
	if code, ok := parse(fs, args); !ok {
		return code
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return 2
	}
	cfg, ok := loadConfig(*cfgPath, stderr)
	if !ok {
		return 2
	}
	report, err := agent.Lint(cfg, fs.Args())
	if err != nil {
		return fail(stderr, err)
	}
	for _, f := range report.Files {
		fmt.Fprintf(stdout, "%s: %s\n", f.Path, strings.Join(f.Reasons, "; "))
	}
	if *verbose {
		for _, w := range report.Warnings {
			fmt.Fprintln(stderr, "warning:", w)
		}
	}
	fmt.Fprintf(stdout, "%d rules, %d errors\n", report.Rules, report.Errors)
	if report.Errors > 0 {
		return 1
	}
	return 0
}

func cmdVersion(_ []string, stdout, _ io.Writer) int {
	v := agent.Version
	if bi, ok := debug.ReadBuildInfo(); ok {
		rev, when := "", ""
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.time":
				when = s.Value
			}
		}
		fmt.Fprintf(stdout, "vigil %s (%s", v, bi.GoVersion)
		if rev != "" {
			fmt.Fprintf(stdout, ", commit %.12s", rev)
		}
		if when != "" {
			fmt.Fprintf(stdout, ", %s", when)
		}
		fmt.Fprintln(stdout, ")")
		return 0
	}
	fmt.Fprintln(stdout, "vigil", v)
	return 0
}
