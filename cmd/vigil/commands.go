package main

import (
	"context"
	"crypto/tls"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/vigil-detect/vigil/agent"
	"github.com/vigil-detect/vigil/broker"
	"github.com/vigil-detect/vigil/config"
	"github.com/vigil-detect/vigil/demo"
	"github.com/vigil-detect/vigil/respond"
)

// configFlags registers --config and --set and returns the loader that reads the file, applies
// the environment and the --set assignments. Validation comes after the command's own flags
// are applied (finishConfig).
func configFlags(fs *flag.FlagSet) func(stderr io.Writer) (*config.Config, bool) {
	path := fs.String("config", "", "configuration `FILE` (YAML; every key is in docs/configuration.md)")
	var sets listFlag
	fs.Var(&sets, "set", "set a configuration key: `key=value`, e.g. kafka.group=soc (repeatable; wins over file and environment)")
	return func(stderr io.Writer) (*config.Config, bool) {
		cfg, err := config.Parse(*path, os.LookupEnv)
		if err == nil {
			err = cfg.SetAll(sets)
		}
		if err != nil {
			fmt.Fprintln(stderr, "vigil:", err)
			return nil, false
		}
		return cfg, true
	}
}

// finishConfig validates the configuration once every layer is applied.
func finishConfig(cfg *config.Config, stderr io.Writer) bool {
	if err := cfg.Validate(); err != nil {
		fmt.Fprintln(stderr, "vigil: invalid configuration:")
		fmt.Fprintln(stderr, err)
		return false
	}
	return true
}

func cmdEval(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("eval", "[--config FILE] [--rules PATH]... [--input TOPIC | --input-format F] [FILE|-]...",
		"Reads events from the FILEs (or stdin) and runs detection, correlation, scoring and response on\n"+
			"them; writes alerts to stdout, one JSON object per line. Events are NDJSON (one JSON object per\n"+
			"line) unless --input or --input-format says otherwise. Lines that cannot be read are reported on\n"+
			"stderr with their line number and skipped; the exit status is 0 when the input was read to the end.\n\n"+
			"Examples:\n"+
			"  vigil eval --rules rules/starter examples/events.ndjson\n"+
			"  vigil eval --config examples/rsyslog/vigil.yaml --input auth /var/log/auth.log", stderr)
	load := configFlags(fs)
	var rulePaths listFlag
	fs.Var(&rulePaths, "rules", "rule file or directory `PATH` (repeatable; replaces the config's rules)")
	inputTopic := fs.String("input", "", "read the lines as records of this `TOPIC`'s inputs entry (its format and extractions)")
	inputFormat := fs.String("input-format", "", "line `format`: json, syslog, logfmt, cef or text (overrides --input's)")
	alertFormat := fs.String("alert-format", "", "alert `format` on stdout: vigil (default), ecs or ocsf")
	explain := fs.Bool("explain", false, "add to each detection alert which selections and values matched (vigil format)")
	if code, ok := parse(fs, args); !ok {
		return code
	}
	cfg, ok := load(stderr)
	if !ok {
		return 2
	}
	if len(rulePaths) > 0 {
		cfg.Rules = rulePaths
	}
	if len(cfg.Rules) == 0 {
		cfg.Rules = []string{agent.BuiltinStarter}
	}
	if *alertFormat != "" {
		cfg.Output.Format = *alertFormat
	}
	if *inputFormat != "" && !slices.Contains(config.InputFormats, *inputFormat) {
		fmt.Fprintf(stderr, "vigil: --input-format %q: want one of %s\n", *inputFormat, strings.Join(config.InputFormats, ", "))
		return 2
	}
	cfg.Explain = cfg.Explain || *explain
	if !finishConfig(cfg, stderr) {
		return 2
	}
	log := agent.Logger(cfg, stderr)
	ctx, stop := signalContext()
	defer stop()
	stats, err := agent.EvalAs(ctx, cfg, agent.EvalInput{Topic: *inputTopic, Format: *inputFormat}, fs.Args(), os.Stdin, stdout, log)
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
	brokers := fs.String("brokers", "", "Kafka brokers, comma-separated `host:port` list (kafka.brokers)")
	topic := fs.String("topic", "", "`topics` to consume, comma-separated (kafka.topics)")
	group := fs.String("group", "", "consumer `group` (kafka.group)")
	alerts := fs.String("alerts-topic", "", "`topic` alerts are produced to (kafka.alerts_topic)")
	metricsAddr := fs.String("metrics-addr", "", "`address` of /metrics, /healthz, /readyz (metrics.addr, default 127.0.0.1:9464; port 0 picks one)")
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
		"Consumes Kafka topics as a consumer group, runs the rules, writes alerts to the alerts topic and\n"+
			"the configured sinks, and commits offsets only after the alerts of the consumed records are\n"+
			"written (at-least-once). SIGINT or SIGTERM finishes the records in flight, commits and exits;\n"+
			"SIGHUP reloads the rules.\n"+
			"Settings come from the file, then VIGIL_* environment variables, then these flags.\n\n"+
			"Example:\n"+
			"  vigil run --config /etc/vigil/vigil.yaml --set log.level=debug", stderr)
	load := configFlags(fs)
	var rulePaths listFlag
	fs.Var(&rulePaths, "rules", "rule file or directory `PATH` (repeatable; replaces the config's rules)")
	stdoutAlerts := fs.Bool("stdout", false, "also write alerts to stdout, one JSON object per line (output.stdout)")
	apply := addKafkaFlags(fs)
	if code, ok := parse(fs, args); !ok {
		return code
	}
	cfg, ok := load(stderr)
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
	if !finishConfig(cfg, stderr) {
		return 2
	}
	log := agent.Logger(cfg, stderr)
	ctx, stop := signalContext()
	defer stop()
	a := &agent.Agent{Config: cfg, Log: log, ReloadRequests: reloadSignal()}
	if err := a.Run(ctx); err != nil {
		return fail(stderr, err)
	}
	return 0
}

func cmdBroker(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("broker", "[--addr 127.0.0.1:9092] [--topics a,b] [--sasl-user M:U:P]... [--tls-cert F --tls-key F]",
		"Runs a local Kafka-protocol broker for development and tests (franz-go kfake): any Kafka client\n"+
			"works against it. Topics are created at start. With --sasl-user, clients must authenticate;\n"+
			"with --tls-cert, connections are encrypted. Not for production.", stderr)
	addr := fs.String("addr", "127.0.0.1:9092", "listen `address`")
	topics := fs.String("topics", "events,vigil-alerts,vigil-dead-letter", "`topics` to create, comma-separated")
	partitions := fs.Int("partitions", 3, "partitions per topic")
	dataDir := fs.String("data-dir", "", "keep topics and offsets in this `directory` across restarts")
	var users listFlag
	fs.Var(&users, "sasl-user", "require SASL and accept this user: `mechanism:name:password` with mechanism plain,\nscram-sha-256 or scram-sha-512 (repeatable)")
	certFile := fs.String("tls-cert", "", "serve TLS with this PEM certificate `file` (needs --tls-key)")
	keyFile := fs.String("tls-key", "", "PEM private key `file` of --tls-cert")
	if code, ok := parse(fs, args); !ok {
		return code
	}
	o := broker.Options{Addr: *addr, Topics: config.SplitList(*topics), Partitions: *partitions, DataDir: *dataDir}
	for _, u := range users {
		user, err := broker.ParseUser(u)
		if err != nil {
			return fail(stderr, err)
		}
		o.Users = append(o.Users, user)
	}
	if *certFile != "" || *keyFile != "" {
		cert, err := tls.LoadX509KeyPair(*certFile, *keyFile)
		if err != nil {
			return fail(stderr, fmt.Errorf("--tls-cert/--tls-key: %w", err))
		}
		o.TLS = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	b, err := broker.Start(o)
	if err != nil {
		return fail(stderr, err)
	}
	fmt.Fprintf(stdout, "broker listening on %s; topics: %s (%d partitions each)", b.Addr, *topics, *partitions)
	if o.TLS != nil {
		fmt.Fprint(stdout, "; TLS")
	}
	if len(o.Users) > 0 {
		fmt.Fprintf(stdout, "; SASL, %d users", len(o.Users))
	}
	fmt.Fprintln(stdout)
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
	metricsAddr := fs.String("metrics-addr", "127.0.0.1:9464", "`address` of /metrics, /healthz, /readyz (port 0 picks one)")
	rate := fs.Float64("rate", 2000, "`events` per second to generate")
	seed := fs.Int64("seed", 1, "random `seed` of the generated stream")
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
	load := configFlags(fs) // placeholders and logsources apply
	verbose := fs.Bool("warnings", false, "also print warnings (unmapped logsources, unknown placeholders)")
	if code, ok := parse(fs, args); !ok {
		return code
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return 2
	}
	cfg, ok := load(stderr)
	if !ok || !finishConfig(cfg, stderr) {
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

func cmdVersion(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("version", "", "Prints Vigil's version, the commit it was built from and the Go toolchain.", stderr)
	if code, ok := parse(fs, args); !ok {
		return code
	}
	fmt.Fprint(stdout, agent.Build())
	return 0
}

func cmdConfig(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] != "check" {
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "help") {
			configUsage(stdout)
			return 0
		}
		configUsage(stderr)
		return 2
	}
	fs := newFlags("config check", "[--set key=value]... FILE",
		"Validates a configuration file as `vigil run` would read it, with the VIGIL_* environment\n"+
			"variables and --set assignments on top, and checks that the files it names exist. Prints one\n"+
			"line per problem (file:line: key: problem) and exits 1 when there is any; prints\n"+
			"'FILE: ok' otherwise. Starts nothing and connects to nothing.", stderr)
	var sets listFlag
	fs.Var(&sets, "set", "set a configuration key: `key=value` (repeatable)")
	if code, ok := parse(fs, args[1:]); !ok {
		return code
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return 2
	}
	path := fs.Arg(0)
	cfg, err := config.Parse(path, os.LookupEnv)
	if err == nil {
		err = cfg.SetAll(sets)
	}
	if err != nil {
		fmt.Fprintln(stdout, err)
		return 1
	}
	bad := false
	for _, e := range []error{cfg.Validate(), cfg.CheckFiles(), respond.Check(&cfg.Response, cfg.Path), agent.CheckStageConfig(cfg)} {
		if e != nil {
			fmt.Fprintln(stdout, e)
			bad = true
		}
	}
	if bad {
		return 1
	}
	fmt.Fprintf(stdout, "%s: ok\n", path)
	return 0
}

func configUsage(w io.Writer) {
	fmt.Fprint(w, "Usage: vigil config check [--set key=value]... FILE\n\n"+
		"Validates a configuration file with file:line errors. Every key, its default and its\n"+
		"VIGIL_* environment variable are listed in docs/configuration.md.\n")
}
