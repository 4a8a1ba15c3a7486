// Package agent wires Vigil's packages together for the commands: rules from the configuration,
// the pipeline with its sources and sinks, metrics and health. cmd/vigil only parses flags.
package agent

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/segmentio/kafka-go/sasl"
	"github.com/segmentio/kafka-go/sasl/plain"
	"github.com/segmentio/kafka-go/sasl/scram"

	"github.com/vigil-detect/vigil/config"
	"github.com/vigil-detect/vigil/correlate"
	"github.com/vigil-detect/vigil/detect"
	"github.com/vigil-detect/vigil/event"
	"github.com/vigil-detect/vigil/pipeline"
	"github.com/vigil-detect/vigil/rules"
	"github.com/vigil-detect/vigil/stream"
)

// Version is set at build time (-ldflags "-X github.com/vigil-detect/vigil/agent.Version=...").
var Version = "dev"

// BuiltinStarter names the embedded starter rules in rule paths.
const BuiltinStarter = "builtin:starter"

// LoadRules reads rule files and directories; BuiltinStarter selects the embedded starter rules.
func LoadRules(paths []string) *rules.Set { return LoadRulesWith(paths, rules.Limits{}) }

// LoadRulesWith is LoadRules with limits on what is read.
func LoadRulesWith(paths []string, lim rules.Limits) *rules.Set {
	set := &rules.Set{Limits: lim}
	for _, p := range paths {
		var part *rules.Set
		if p == BuiltinStarter {
			part = rules.LoadFS(rules.Starter(), rules.StarterPrefix)
		} else {
			part = rules.LoadWith(lim, p)
		}
		set.Rules = append(set.Rules, part.Rules...)
		set.Correlations = append(set.Correlations, part.Correlations...)
		set.Filters = append(set.Filters, part.Filters...)
		set.Errors = append(set.Errors, part.Errors...)
		set.Files += part.Files
	}
	return set
}

// CompileRules loads and compiles the configured rules.
func CompileRules(cfg *config.Config) (*pipeline.Ruleset, error) {
	if len(cfg.Rules) == 0 {
		return nil, errors.New("no rules configured: give --rules PATH (or rules: in the config file)")
	}
	set := LoadRulesWith(cfg.Rules, rules.Limits{MaxFileBytes: int64(cfg.RuleLimits.MaxFileBytes)})
	opts, err := RuleOptions(cfg)
	if err != nil {
		return nil, err
	}
	return CompileSet(set, opts), nil
}

// CompileSet compiles a loaded rule set with the correlation rules' needs: the event fields
// their group-by and value fields read are kept on detection alerts, and the alerts of rules
// they use without `generate: true` are suppressed. Correlation errors join set.Errors.
func CompileSet(set *rules.Set, opts pipeline.RuleOptions) *pipeline.Ruleset {
	cs := correlate.Compile(set)
	opts.ExtraFields, opts.Suppress = cs.ExtraFields, cs.Suppress
	rs := pipeline.Compile(set, opts)
	if bound := correlate.CompileBound(set, rs.Detect.Rules); len(bound.Errors) > len(cs.Errors) {
		// Some correlation refers to a detection rule that did not compile: without it, the
		// rules it uses must not be suppressed on its account.
		cs = bound
		opts.ExtraFields, opts.Suppress = cs.ExtraFields, cs.Suppress
		rs = pipeline.Compile(set, opts)
	}
	set.Errors = append(set.Errors, cs.Errors...)
	return rs
}

// RuleOptions derives compile options from the configuration.
func RuleOptions(cfg *config.Config) (pipeline.RuleOptions, error) {
	var opts pipeline.RuleOptions
	var routing []detect.Logsource
	for _, p := range cfg.Logsources {
		ls, err := detect.LoadLogsources(p)
		if err != nil {
			return opts, err
		}
		routing = append(routing, ls...)
	}
	if cfg.BuiltinLogsources == nil || *cfg.BuiltinLogsources {
		routing = append(routing, detect.BuiltinLogsources()...)
	}
	var mappings []*detect.FieldMapping
	for _, p := range cfg.FieldMappings {
		m, err := detect.LoadFieldMapping(p)
		if err != nil {
			return opts, fmt.Errorf("field_mappings: %w", err)
		}
		mappings = append(mappings, m)
	}
	detect.SortFieldMappings(mappings)
	opts.Detect = detect.Options{
		Logsources:    routing,
		NoRouting:     len(routing) == 0,
		FieldMappings: mappings,
		Placeholders:  cfg.Placeholders,
		Limits:        event.Limits{MaxBytes: maxEventBytes(cfg), MaxDepth: cfg.Pipeline.MaxDepth},
		RuleLimits: detect.RuleLimits{
			MaxRegexBytes:     cfg.RuleLimits.MaxRegexBytes,
			MaxRegexProgram:   cfg.RuleLimits.MaxRegexProgram,
			MaxValueVariants:  cfg.RuleLimits.MaxValueVariants,
			MaxConditionDepth: cfg.RuleLimits.MaxConditionDepth,
		},
	}
	opts.TimeFields = cfg.TimeFields
	opts.Explain = cfg.Explain
	return opts, nil
}

// LogRuleProblems reports load and compile errors (one line each) and a summary.
func LogRuleProblems(log *slog.Logger, rs *pipeline.Ruleset) {
	for _, err := range rs.Errors() {
		log.Warn("rule skipped", "error", err)
	}
	for _, w := range rs.Detect.Warnings {
		log.Debug("rule warning", "warning", w)
	}
	log.Info("rules loaded", "detection", len(rs.Detect.Rules), "correlation", len(rs.Set.Correlations),
		"errors", len(rs.Errors()), "warnings", len(rs.Detect.Warnings))
}

// PipelineConfig maps the configuration to the runner's.
func PipelineConfig(cfg *config.Config) pipeline.Config {
	return pipeline.Config{
		Workers:        cfg.Pipeline.Workers,
		BatchSize:      cfg.Pipeline.BatchSize,
		CommitEvery:    cfg.Pipeline.CommitEvery,
		CommitInterval: cfg.Pipeline.CommitInterval,
		Limits:         event.Limits{MaxBytes: maxEventBytes(cfg), MaxDepth: cfg.Pipeline.MaxDepth},

		CostSampleEvery: cfg.Pipeline.CostSampleEvery,
		MaxCostSeries:   cfg.Pipeline.MaxCostSeries,
	}
}

// Logger builds the process logger from the configuration.
func Logger(cfg *config.Config, w io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(strings.ToUpper(orDefault(cfg.Log.Level, "info"))))
	opts := &slog.HandlerOptions{Level: level}
	if cfg.Log.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// maxEventBytes is the configured event size limit (default 1 MiB).
func maxEventBytes(cfg *config.Config) int {
	if cfg.Pipeline.MaxEventBytes > 0 {
		return cfg.Pipeline.MaxEventBytes
	}
	return 1 << 20
}

func orDefault(v, d string) string {
	if v == "" {
		return d
	}
	return v
}

// KafkaConfig maps the configuration to the stream package's, loading TLS material.
func KafkaConfig(cfg *config.Config, log *slog.Logger) (stream.KafkaConfig, error) {
	k := cfg.Kafka
	kc := stream.KafkaConfig{
		Brokers:  k.Brokers,
		ClientID: k.ClientID,
		Group:    k.Group,
		Topics:   cfg.Topics(),
		Logger:   log,

		HeartbeatInterval: k.HeartbeatInterval,
		SessionTimeout:    k.SessionTimeout,
		RebalanceTimeout:  k.RebalanceTimeout,
		MaxBytes:          k.FetchMaxBytes,
		MaxWait:           k.FetchMaxWait,
	}
	start, err := config.ParseStartOffset(k.StartOffset)
	if err != nil {
		return kc, fmt.Errorf("kafka.start_offset: %w", err)
	}
	switch {
	case !start.At.IsZero():
		kc.StartTime = start.At
	case start.Earliest:
		kc.StartOffset = "earliest"
	default:
		kc.StartOffset = "latest"
	}
	if k.TLS.Enabled {
		tc := &tls.Config{ServerName: k.TLS.ServerName, InsecureSkipVerify: k.TLS.InsecureSkipVerify, MinVersion: tls.VersionTLS12}
		if k.TLS.CAFile != "" {
			pem, err := os.ReadFile(k.TLS.CAFile)
			if err != nil {
				return kc, fmt.Errorf("kafka.tls.ca_file: %w", err)
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				return kc, fmt.Errorf("kafka.tls.ca_file %s: no PEM certificates", k.TLS.CAFile)
			}
			tc.RootCAs = pool
		}
		if k.TLS.CertFile != "" || k.TLS.KeyFile != "" {
			cert, err := tls.LoadX509KeyPair(k.TLS.CertFile, k.TLS.KeyFile)
			if err != nil {
				return kc, fmt.Errorf("kafka.tls client certificate: %w", err)
			}
			tc.Certificates = []tls.Certificate{cert}
		}
		kc.TLS = tc
	}
	if k.SASL.Mechanism != "" {
		var mech sasl.Mechanism
		var err error
		switch strings.ToLower(k.SASL.Mechanism) {
		case "plain":
			mech = plain.Mechanism{Username: k.SASL.Username, Password: k.SASL.Password}
		case "scram-sha-256":
			mech, err = scram.Mechanism(scram.SHA256, k.SASL.Username, k.SASL.Password)
		case "scram-sha-512":
			mech, err = scram.Mechanism(scram.SHA512, k.SASL.Username, k.SASL.Password)
		}
		if err != nil {
			return kc, fmt.Errorf("kafka.sasl: %w", err)
		}
		kc.SASL = mech
	}
	return kc, nil
}

// Eval runs the whole pipeline over NDJSON inputs (file paths, "-" for stdin) and writes alerts
// as NDJSON to out. Bad lines are reported on log with their line numbers and counted.
func Eval(ctx context.Context, cfg *config.Config, inputs []string, stdin io.Reader, out io.Writer, log *slog.Logger) (*pipeline.Stats, error) {
	return EvalAs(ctx, cfg, EvalInput{}, inputs, stdin, out, log)
}

// EvalAs is Eval reading its lines as ei says (syslog lines, say) and writing alerts in
// output.format.
func EvalAs(ctx context.Context, cfg *config.Config, ei EvalInput, inputs []string, stdin io.Reader, out io.Writer, log *slog.Logger) (*pipeline.Stats, error) {
	router, err := ei.router(cfg)
	if err != nil {
		return nil, err
	}
	enc, err := Encoder(cfg.Output.Format)
	if err != nil {
		return nil, err
	}
	rs, err := CompileRules(cfg)
	if err != nil {
		return nil, err
	}
	LogRuleProblems(log, rs)
	if len(inputs) == 0 {
		inputs = []string{"-"}
	}
	sink := stream.NewFormatWriterSink(out, false, enc)
	defer sink.Close()
	stages, closeStages, err := Stages(cfg, rs, log, nil)
	if err != nil {
		return nil, err
	}
	defer closeStages()
	total := &pipeline.Stats{}
	for i, in := range inputs {
		var r io.Reader = stdin
		label := "stdin"
		if in != "-" {
			f, err := os.Open(in)
			if err != nil {
				return total, err
			}
			r, label = f, in
		}
		runner := &pipeline.Runner{
			Source:     stream.NewLineSource(r, maxEventBytes(cfg)+1),
			Sinks:      []stream.Sink{sink},
			DeadLetter: &stream.LogDeadLetter{Log: log, Label: label},
			Stages:     stages,
			Log:        log,
			Config:     PipelineConfig(cfg),
			Inputs:     router,
			KeepOpen:   i < len(inputs)-1, // windows still open at the end close after the last input
		}
		runner.SetRules(rs)
		err := runner.Run(ctx)
		runner.Source.Close()
		s := runner.Stats()
		total.Records.Add(s.Records.Load())
		total.Rejected.Add(s.Rejected.Load())
		total.Alerts.Add(s.Alerts.Load())
		total.Matches.Add(s.Matches.Load())
		if err != nil {
			return total, err
		}
	}
	return total, nil
}
