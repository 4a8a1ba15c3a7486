package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"sync"

	"github.com/vigil-detect/vigil/config"
	"github.com/vigil-detect/vigil/correlate"
	"github.com/vigil-detect/vigil/metrics"
	"github.com/vigil-detect/vigil/pipeline"
	"github.com/vigil-detect/vigil/respond"
	"github.com/vigil-detect/vigil/stream"
)

// StageEnv is what stages may take from the program hosting them besides the configuration.
type StageEnv struct {
	Mux        *http.ServeMux         // the metrics server's mux (the approval API can share it)
	OnDecision func(respond.Decision) // hears every response decision (the demo's console)
}

// CheckStageConfig decodes the configuration sections the stages own (for `vigil config check`).
func CheckStageConfig(cfg *config.Config) error {
	_, err := correlate.DecodeConfig(&cfg.Correlation, cfg.Path)
	return err
}

// Stages builds the ordered stages after detection from the configuration: correlation, then
// response.
func Stages(cfg *config.Config, rs *pipeline.Ruleset, log *slog.Logger, m *metrics.Metrics, env ...StageEnv) ([]pipeline.Stage, func(), error) {
	var stages []pipeline.Stage
	var closers []func()
	closeAll := func() {
		for i := len(closers) - 1; i >= 0; i-- {
			closers[i]()
		}
	}
	ccfg, err := correlate.DecodeConfig(&cfg.Correlation, cfg.Path)
	if err != nil {
		return nil, func() {}, err
	}
	corr, err := correlate.New(rs, ccfg, correlate.Options{Log: log, Metrics: m})
	if err != nil {
		return nil, func() {}, err
	}
	stages = append(stages, corr)
	closers = append(closers, corr.Close)
	resp, err := responseStage(cfg, log, m, env)
	if err != nil {
		closeAll()
		return nil, func() {}, err
	}
	if resp != nil {
		stages = append(stages, resp)
		closers = append(closers, resp.Close)
	}
	return stages, closeAll, nil
}

// Agent is the Kafka agent behind `vigil run` and `vigil demo`.
type Agent struct {
	Config  *config.Config
	Log     *slog.Logger
	Metrics *metrics.Metrics
	Health  *metrics.Health
	// ExtraSinks receive alerts besides the configured ones (the demo's console view).
	ExtraSinks []stream.Sink
	// Mux, when set, gets the metrics endpoints and is served on the metrics address; other
	// packages may add handlers to it (the approval API).
	Mux *http.ServeMux
	// OnDecision hears every response decision (the demo prints them under the alerts).
	OnDecision func(respond.Decision)

	// ReloadRequests, when set, asks for a rule reload on every receive (cmd/vigil sends
	// SIGHUP here).
	ReloadRequests <-chan os.Signal

	runner      *pipeline.Runner
	server      *metrics.Server
	closeStages func()
	reloadMu    sync.Mutex
	loaded      string // fingerprint of the rule files when they were last read
}

// MetricsAddr is the address the metrics server bound (after Start).
func (a *Agent) MetricsAddr() string {
	if a.server == nil {
		return ""
	}
	return a.server.Addr
}

// Runner exposes the pipeline (after Start).
func (a *Agent) Runner() *pipeline.Runner { return a.runner }

// Start compiles the rules, serves metrics, connects to Kafka and prepares the pipeline.
func (a *Agent) Start() error {
	cfg := a.Config
	if a.Log == nil {
		a.Log = slog.Default()
	}
	if a.Metrics == nil {
		a.Metrics = metrics.New(Version)
	}
	if a.Health == nil {
		a.Health = metrics.NewHealth(a.Metrics)
	}
	if a.Mux == nil {
		a.Mux = http.NewServeMux() // so that stages can add handlers (the approval API)
	}
	a.Health.Set("rules", false, "loading")
	a.Health.Set("kafka", false, "connecting")
	srv, err := metrics.Serve(cfg.Metrics.Addr, a.Metrics, a.Health, a.Mux, a.Log)
	if err != nil {
		return fmt.Errorf("metrics address %s: %w", cfg.Metrics.Addr, err)
	}
	a.server = srv
	a.Log.Info("serving metrics", "addr", "http://"+srv.Addr+"/metrics")

	a.loaded = fingerprint(a.watchedPaths())
	rs, err := CompileRules(cfg)
	if err != nil {
		return err
	}
	LogRuleProblems(a.Log, rs)
	if err := usable(cfg, rs); err != nil {
		return err
	}
	a.ruleMetrics(rs)
	a.Health.Set("rules", true, "")

	kc, err := KafkaConfig(cfg, a.Log)
	if err != nil {
		return err
	}
	inputs, err := Inputs(cfg)
	if err != nil {
		return err
	}
	sinks, err := Sinks(cfg, kc, os.Stdout)
	if err != nil {
		return err
	}
	opened := sinks // closed again if starting fails below
	defer func() {
		if a.runner == nil {
			for _, s := range opened {
				s.Close()
			}
		}
	}()
	sinks = append(sinks, a.ExtraSinks...)
	if len(sinks) == 0 {
		return errors.New("no alert destination: set kafka.alerts_topic, output.stdout, output.file or output.sinks")
	}
	var dlq stream.DeadLetter = &stream.LogDeadLetter{Log: a.Log}
	if cfg.Kafka.DeadLetterTopic != "" {
		kdl, err := stream.NewKafkaDeadLetterWith(kc, stream.WriterConfig{Topic: cfg.Kafka.DeadLetterTopic,
			MaxMessageBytes: cfg.Kafka.MaxMessageBytes})
		if err != nil {
			return err
		}
		dlq = kdl
		defer func() {
			if a.runner == nil {
				kdl.Close()
			}
		}()
	}
	src, err := stream.NewKafkaSource(kc, func(ok bool) {
		if ok {
			a.Health.Set("kafka", true, "")
		} else {
			a.Health.Set("kafka", false, "fetch failing")
		}
	})
	if err != nil {
		return err
	}
	a.Health.Set("kafka", true, "")
	stages, closeStages, err := Stages(cfg, rs, a.Log, a.Metrics, StageEnv{Mux: a.Mux, OnDecision: a.OnDecision})
	if err != nil {
		src.Close()
		return err
	}
	a.closeStages = closeStages
	a.runner = &pipeline.Runner{
		Source:     src,
		Sinks:      sinks,
		DeadLetter: dlq,
		Stages:     stages,
		Metrics:    a.Metrics,
		Log:        a.Log,
		Config:     PipelineConfig(cfg),
		Inputs:     inputs,
	}
	a.runner.SetRules(rs)
	a.Log.Info("consuming", "brokers", kc.Brokers, "topics", kc.Topics, "group", kc.Group, "alerts_topic", cfg.Kafka.AlertsTopic)
	return nil
}

// Run processes until ctx is cancelled, then drains, commits and closes everything.
func (a *Agent) Run(ctx context.Context) error {
	if a.runner == nil {
		if err := a.Start(); err != nil {
			a.Close()
			return err
		}
	}
	watchCtx, stopWatch := context.WithCancel(ctx)
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		a.watchRules(watchCtx)
	}()
	err := a.runner.Run(ctx)
	stopWatch()
	<-watched
	a.Close()
	s := a.runner.Stats()
	a.Log.Info("stopped", "events", s.Records.Load(), "alerts", s.Alerts.Load(), "rejected", s.Rejected.Load())
	return err
}

// Close releases the source, sinks and server.
func (a *Agent) Close() {
	if a.runner != nil {
		if err := a.runner.Source.Close(); err != nil {
			a.Log.Debug("closing source", "error", err)
		}
		for _, s := range a.runner.Sinks {
			s.Close()
		}
		if a.runner.DeadLetter != nil {
			a.runner.DeadLetter.Close()
		}
	}
	if a.closeStages != nil {
		a.closeStages()
		a.closeStages = nil
	}
	if a.server != nil {
		a.server.Close()
		a.server = nil
	}
}
