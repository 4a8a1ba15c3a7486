package bench

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/vigil-detect/vigil/agent"
	"github.com/vigil-detect/vigil/alert"
	"github.com/vigil-detect/vigil/broker"
	"github.com/vigil-detect/vigil/metrics"
	"github.com/vigil-detect/vigil/pipeline"
	"github.com/vigil-detect/vigil/stream"
)

// Topics of the end-to-end run.
const (
	e2eEvents     = "bench-events"
	e2eAlerts     = "bench-alerts"
	e2eDeadLetter = "bench-dead-letter"
	e2eGroup      = "vigil-bench"
)

// e2eRecords is how many records the end-to-end run of a lane of n events produces: as many
// whole copies of the lane as make atLeast records, one at the fewest.
func e2eRecords(n, atLeast int) int {
	if n == 0 {
		return 0
	}
	return n * max(1, (atLeast+n-1)/n)
}

// e2eTimeout bounds how long the pipeline may take for one lane before the run fails.
func e2eTimeout(n int) time.Duration { return 2*time.Minute + time.Duration(n)*100*time.Microsecond }

// runE2E starts kfake on 127.0.0.1, produces the lane into a topic with kafka-go, then runs
// the real pipeline (Kafka consumer group source, parallel decode and detection, the configured
// stages, Kafka alerts and dead-letter sinks, metrics) and times it until every record's offset
// is committed.
func runE2E(ctx context.Context, rs *pipeline.Ruleset, l *lane, cfg *Config) (Result, error) {
	// kfake's in-memory log grows each segment by doubling into fresh memory, which cost the
	// run more than detection did; a scratch directory (page cache, no fsync) costs one copy.
	dir, err := os.MkdirTemp("", "vigil-bench-broker-")
	if err != nil {
		return Result{}, err
	}
	defer os.RemoveAll(dir)
	b, err := broker.Start(broker.Options{
		Topics: []string{e2eEvents, e2eAlerts, e2eDeadLetter}, Partitions: cfg.Partitions,
		DataDir: dir, NoFsync: true,
	})
	if err != nil {
		return Result{}, err
	}
	defer b.Close()

	records := e2eRecords(l.len(), cfg.E2ERecords)
	t0 := time.Now()
	if err := produce(ctx, b.Addr, l, records); err != nil {
		return Result{}, fmt.Errorf("producing the lane: %w", err)
	}
	produced := time.Since(t0)
	cfg.Log.Info("lane produced", "records", records, "lane_events", l.len(), "seconds", produced.Seconds())

	settings := *cfg.Settings
	settings.Kafka.Brokers = []string{b.Addr}
	settings.Kafka.Topics = []string{e2eEvents}
	settings.Kafka.Group = e2eGroup
	settings.Kafka.StartOffset = "earliest"
	settings.Kafka.AlertsTopic = e2eAlerts
	settings.Kafka.DeadLetterTopic = e2eDeadLetter
	quiet := slog.New(slog.DiscardHandler)
	kc, err := agent.KafkaConfig(&settings, quiet)
	if err != nil {
		return Result{}, err
	}
	sink, err := stream.NewKafkaSink(kc, stream.WriterConfig{Topic: e2eAlerts, Compression: settings.Kafka.Compression})
	if err != nil {
		return Result{}, err
	}
	defer sink.Close()
	dlq, err := stream.NewKafkaDeadLetter(kc, e2eDeadLetter)
	if err != nil {
		return Result{}, err
	}
	defer dlq.Close()
	m := metrics.New(agent.Version)
	stages, closeStages, err := agent.Stages(&settings, rs, quiet, m)
	if err != nil {
		return Result{}, err
	}
	defer closeStages()

	runtime.GC()
	var ms0, ms1 runtime.MemStats
	runtime.ReadMemStats(&ms0)
	start := time.Now()
	ks, err := stream.NewKafkaSource(kc, nil)
	if err != nil {
		return Result{}, err
	}
	src := &timedSource{Source: ks, want: int64(records), warm: int64(e2eWarmup(l.len(), records)), finished: make(chan struct{})}
	tsink := &timedSink{Sink: sink}
	runner := &pipeline.Runner{
		Source: src, Sinks: []stream.Sink{tsink}, DeadLetter: dlq, Stages: stages,
		Metrics: m, Log: quiet, Config: agent.PipelineConfig(&settings),
	}
	runner.SetRules(rs)
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	runErr := make(chan error, 1)
	go func() { runErr <- runner.Run(runCtx) }()

	timeout := time.NewTimer(e2eTimeout(records))
	defer timeout.Stop()
	select {
	case <-src.finished:
	case err := <-runErr:
		ks.Close()
		if err == nil {
			err = fmt.Errorf("pipeline stopped after %d of %d records", src.done.Load(), records)
		}
		return Result{}, err
	case <-timeout.C:
		stop()
		<-runErr
		ks.Close()
		return Result{}, fmt.Errorf("only %d of %d records committed after %v", src.committed.Load(), records, e2eTimeout(records))
	case <-ctx.Done():
		<-runErr
		ks.Close()
		return Result{}, ctx.Err()
	}
	end := src.end
	runtime.ReadMemStats(&ms1)
	stop()
	if err := <-runErr; err != nil {
		ks.Close()
		return Result{}, err
	}
	ks.Close()

	src.mu.Lock()
	first, warmed, warmedAt, lat, commits, batches := src.first, src.warmed, src.warmedAt, src.lat, src.commits, src.batches
	src.mu.Unlock()
	if warmedAt.IsZero() || warmed >= int64(records) {
		warmedAt, warmed = first, 0 // no warm-up, or it took every record: time them all
	}
	steady := end.Sub(warmedAt).Seconds()
	timed := float64(int64(records) - warmed)
	total := end.Sub(start).Seconds()
	n := float64(records)
	copies := records / max(l.len(), 1)
	st := runner.Stats()
	return Result{
		Events:         int64(records),
		Seconds:        steady,
		EventsPerSec:   timed / steady,
		MBPerSec:       float64(l.bytes()) / float64(max(l.len(), 1)) * timed / steady / 1e6,
		Alerts:         st.Matches.Load(),
		AllocsPerEvent: float64(ms1.Mallocs-ms0.Mallocs) / n,
		Rejected:       st.Rejected.Load(),
		Latency: Latency{
			Unit: "batch", Sampled: "every batch, fetch to alerts written", Samples: lat.n,
			P50: lat.quantile(0.50), P99: lat.quantile(0.99), Mean: lat.mean(),
		},
		E2E: &E2E{
			Partitions:       cfg.Partitions,
			LaneCopies:       copies,
			ProduceSeconds:   produced.Seconds(),
			JoinSeconds:      first.Sub(start).Seconds(),
			WarmupRecords:    warmed,
			WarmupSeconds:    warmedAt.Sub(first).Seconds(),
			TotalSeconds:     total,
			EventsPerSecWall: n / total,
			AlertsWritten:    st.Alerts.Load(),
			Batches:          batches,
			MeanBatch:        n / float64(max(batches, 1)),
			SinkWrites:       tsink.lat.n,
			SinkWriteP50:     tsink.lat.quantile(0.5),
			SinkWriteP99:     tsink.lat.quantile(0.99),
			Commits:          commits.n,
			CommitP50:        commits.quantile(0.5),
			CommitP99:        commits.quantile(0.99),
		},
	}, nil
}

// e2eWarmup is how many of an end-to-end run's records are left untimed, as the other modes
// make one untimed pass: at the start the pipeline's buffers, the value caches and the heap are
// still growing, and consumer fetches ramping up. One copy of the lane, or a sixth of the
// records when that is more (a short NDJSON file), but never more than half of them.
func e2eWarmup(lane, records int) int {
	w := max(lane, records/6)
	if w > records/2 {
		w = records / 6
	}
	return w
}

// produce writes the lane's events, in order and over again until records are written,
// round-robin over the topic's partitions.
func produce(ctx context.Context, addr string, l *lane, records int) error {
	w := &kafka.Writer{
		Addr: kafka.TCP(addr), Topic: e2eEvents, Balancer: &kafka.RoundRobin{},
		BatchSize: 1000, BatchTimeout: 5 * time.Millisecond, RequiredAcks: kafka.RequireOne,
	}
	defer w.Close()
	const chunk = 10000
	msgs := make([]kafka.Message, 0, chunk)
	for i := 0; i < records; {
		msgs = msgs[:0]
		for ; i < records && len(msgs) < chunk; i++ {
			msgs = append(msgs, kafka.Message{Value: l.event(i % l.len())})
		}
		wctx, cancel := context.WithTimeout(ctx, time.Minute)
		err := w.WriteMessages(wctx, msgs...)
		cancel()
		var we kafka.WriteErrors
		if errors.As(err, &we) {
			// One error per message: say how many and the first.
			for _, e := range we {
				if e != nil {
					return fmt.Errorf("%d of %d messages not written, first: %w", we.Count(), len(msgs), e)
				}
			}
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// timedSource wraps the Kafka source to time the run from the inside: when the first records
// arrive, when the warm-up records are done, how long each batch takes from fetch to done (its
// alerts written), and the commit that covers the last record.
type timedSource struct {
	stream.Source
	want      int64
	warm      int64        // records done before the timed part starts
	done      atomic.Int64 // records marked done
	committed atomic.Int64 // records covered by a successful commit
	finished  chan struct{}
	first     time.Time // first records fetched (written before finished is closed)
	end       time.Time // last record committed
	warmedAt  time.Time // when warmed records were done, warmed >= warm (the batch that crossed it)
	warmed    int64

	mu      sync.Mutex
	fetched []time.Time // fetch times of batches not yet done, in order
	lat     hist        // per batch, fetch to done
	commits hist        // per commit call
	batches int64
	once    sync.Once
}

func (s *timedSource) Fetch(ctx context.Context, dst []stream.Record, max int) ([]stream.Record, error) {
	recs, err := s.Source.Fetch(ctx, dst, max)
	if len(recs) > 0 {
		now := time.Now()
		s.mu.Lock()
		if s.first.IsZero() {
			s.first = now
		}
		s.fetched = append(s.fetched, now)
		s.batches++
		s.mu.Unlock()
	}
	return recs, err
}

// Done is called once per batch, in fetch order.
func (s *timedSource) Done(recs []stream.Record) {
	now := time.Now()
	done := s.done.Add(int64(len(recs)))
	s.mu.Lock()
	if len(s.fetched) > 0 {
		s.lat.add(now.Sub(s.fetched[0]))
		s.fetched = s.fetched[1:]
	}
	if s.warm > 0 && s.warmedAt.IsZero() && done >= s.warm {
		s.warmedAt, s.warmed = now, done
	}
	s.mu.Unlock()
	s.Source.Done(recs)
}

func (s *timedSource) Commit(ctx context.Context) error {
	d := s.done.Load()
	t := time.Now()
	err := s.Source.Commit(ctx)
	s.mu.Lock()
	s.commits.add(time.Since(t))
	s.mu.Unlock()
	if err == nil {
		s.committed.Store(d)
		if d >= s.want {
			s.once.Do(func() {
				s.end = time.Now()
				close(s.finished)
			})
		}
	}
	return err
}

// timedSink times the writes of non-empty alert batches to the alerts topic (each waits for the
// broker's acknowledgement). Writes come from the pipeline's one sink goroutine.
type timedSink struct {
	stream.Sink
	lat hist
}

func (s *timedSink) Write(ctx context.Context, alerts []*alert.Alert) error {
	if len(alerts) == 0 {
		return s.Sink.Write(ctx, alerts)
	}
	t := time.Now()
	err := s.Sink.Write(ctx, alerts)
	s.lat.add(time.Since(t))
	return err
}
