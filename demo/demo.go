// Package demo runs Vigil end to end on one machine: an embedded Kafka broker, a generated stream
// of Windows telemetry with an attack story, the agent with the starter rules, and a console view
// of the alerts as they happen.
package demo

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/segmentio/kafka-go"
	"gopkg.in/yaml.v3"

	"github.com/vigil-detect/vigil/agent"
	"github.com/vigil-detect/vigil/bench/gen"
	"github.com/vigil-detect/vigil/broker"
	"github.com/vigil-detect/vigil/config"
	"github.com/vigil-detect/vigil/respond"
	"github.com/vigil-detect/vigil/stream"
)

// responseYAML is the demo's response section: dry-run playbooks whose decisions the console
// prints under the alerts.
//
//go:embed response.yaml
var responseYAML []byte

// Options configure a demo run.
type Options struct {
	MetricsAddr string  // default 127.0.0.1:9464
	Rate        float64 // generated events per second (default 2000)
	Seed        int64
	AttackAt    time.Duration // when the attack story starts (default 3s)
	JSON        bool          // print NDJSON alerts instead of the console view
	Out         io.Writer     // alerts (default stdout)
	Log         io.Writer     // logs (default stderr)
	Quiet       bool          // only warnings in the log

	started chan<- string // test hook: receives the metrics address once running
}

// Topics the demo creates.
const (
	EventsTopic     = "events"
	AlertsTopic     = "vigil-alerts"
	DeadLetterTopic = "vigil-dead-letter"
)

// Result summarises a run.
type Result struct {
	Produced    int64
	Events      int64
	Alerts      int64
	Rejected    int64
	MetricsAddr string
}

// Run runs until ctx is done, then stops producing, lets the agent finish and commit, and prints
// a summary.
func Run(ctx context.Context, o Options) error {
	_, err := RunResult(ctx, o)
	return err
}

// RunResult is Run, returning what happened.
func RunResult(ctx context.Context, o Options) (*Result, error) {
	if o.Out == nil {
		o.Out = os.Stdout
	}
	if o.Log == nil {
		o.Log = os.Stderr
	}
	if o.Rate <= 0 {
		o.Rate = 2000
	}
	if o.AttackAt == 0 {
		o.AttackAt = 3 * time.Second
	}
	if o.MetricsAddr == "" {
		o.MetricsAddr = "127.0.0.1:9464"
	}
	level := slog.LevelInfo
	if o.Quiet {
		level = slog.LevelWarn
	}
	log := slog.New(slog.NewTextHandler(o.Log, &slog.HandlerOptions{Level: level}))

	b, err := broker.Start(broker.Options{Topics: []string{EventsTopic, AlertsTopic, DeadLetterTopic}, Partitions: 3})
	if err != nil {
		return nil, err
	}
	defer b.Close()

	cfg := config.Default()
	cfg.Rules = []string{agent.BuiltinStarter}
	cfg.Kafka.Brokers = []string{b.Addr}
	cfg.Kafka.Topics = []string{EventsTopic}
	cfg.Kafka.Group = "vigil-demo"
	cfg.Kafka.AlertsTopic = AlertsTopic
	cfg.Kafka.DeadLetterTopic = DeadLetterTopic
	cfg.Metrics.Addr = o.MetricsAddr
	if err := yaml.Unmarshal(responseYAML, &cfg.Response); err != nil {
		return nil, fmt.Errorf("demo/response.yaml: %w", err)
	}
	cfg.Path = "demo/response.yaml"
	// The generated events reach the agent within milliseconds of their event time: a short
	// allowed lateness lets correlations decide two seconds after their window, not thirty.
	if err := yaml.Unmarshal([]byte("allowed_lateness: 2s"), &cfg.Correlation); err != nil {
		return nil, err
	}
	cfg.Correlation = *cfg.Correlation.Content[0]

	var view stream.Sink
	var onDecision func(respond.Decision)
	if o.JSON {
		view = stream.NewWriterSink(o.Out, false)
	} else {
		console := NewConsole(o.Out)
		view, onDecision = console, console.Decision
	}
	a := &agent.Agent{Config: cfg, Log: log, ExtraSinks: []stream.Sink{view}, Mux: http.NewServeMux(), OnDecision: onDecision}
	if err := a.Start(); err != nil {
		a.Close()
		return nil, err
	}
	res := &Result{MetricsAddr: a.MetricsAddr()}
	if !o.JSON {
		fmt.Fprintf(o.Out, "Vigil demo: broker %s, metrics http://%s/metrics, %.0f events/s, attack story in %s. Ctrl-C stops.\n"+
			"Response playbooks run in dry-run: decisions print under the alerts (↳), nothing is sent.\n\n",
			b.Addr, a.MetricsAddr(), o.Rate, o.AttackAt)
	}

	if o.started != nil {
		o.started <- a.MetricsAddr()
	}
	prodCtx, stopProducing := context.WithCancel(ctx)
	defer stopProducing()
	var wg sync.WaitGroup
	var prodErr error
	wg.Add(1)
	go func() {
		defer wg.Done()
		res.Produced, prodErr = produce(prodCtx, b.Addr, o)
	}()

	runErr := a.Run(ctx)
	stopProducing()
	wg.Wait()
	s := a.Runner().Stats()
	res.Events, res.Alerts, res.Rejected = s.Records.Load(), s.Alerts.Load(), s.Rejected.Load()
	if !o.JSON {
		fmt.Fprintf(o.Out, "\nDemo finished: %d events produced, %d processed, %d alerts, %d bad records sent to %s.\n",
			res.Produced, res.Events, res.Alerts, res.Rejected, DeadLetterTopic)
	}
	if runErr != nil {
		return res, runErr
	}
	if prodErr != nil && ctx.Err() == nil && !errors.Is(prodErr, context.Canceled) {
		return res, prodErr
	}
	return res, nil
}

// produce writes the generated stream in real time: every tick, the events whose event time has
// come. One malformed record is slipped in after the story to show dead-letter handling.
func produce(ctx context.Context, addr string, o Options) (int64, error) {
	w := &kafka.Writer{
		Addr:         kafka.TCP(addr),
		Topic:        EventsTopic,
		Balancer:     &kafka.RoundRobin{},
		BatchSize:    5000,
		BatchTimeout: 5 * time.Millisecond,
		RequiredAcks: kafka.RequireOne,
	}
	defer w.Close()
	start := time.Now().UTC()
	g := gen.New(gen.Options{Seed: o.Seed, Start: start, Rate: o.Rate, AttackAt: o.AttackAt})
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	var produced int64
	badSent := false
	var msgs []kafka.Message
	for {
		select {
		case <-ctx.Done():
			return produced, ctx.Err()
		case now := <-tick.C:
			msgs = msgs[:0]
			for !g.Time().After(now) && len(msgs) < 50000 {
				msgs = append(msgs, kafka.Message{Value: g.Next(nil)})
			}
			if g.StoryDone() && !badSent {
				msgs = append(msgs, kafka.Message{Value: []byte(`{"EventID": 4625, "IpAddress": "203.0.113.9"`)})
				badSent = true
			}
			if len(msgs) == 0 {
				continue
			}
			if err := w.WriteMessages(ctx, msgs...); err != nil {
				if ctx.Err() != nil {
					return produced, ctx.Err()
				}
				return produced, fmt.Errorf("produce demo events: %w", err)
			}
			produced += int64(len(msgs))
		}
	}
}
