// Package metrics defines the Prometheus metrics that describe Vigil's engine and serves them,
// with health and readiness, over HTTP.
package metrics

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics holds every collector. Each agent (and each test) has its own registry: no globals.
type Metrics struct {
	Registry *prometheus.Registry

	Events           *prometheus.CounterVec // topic
	Rejected         *prometheus.CounterVec // reason
	RuleMatches      *prometheus.CounterVec // rule_id, rule_title
	Alerts           *prometheus.CounterVec // kind, level
	ProcessingTime   prometheus.Histogram   // fetch to alerts written, per batch
	DetectionLatency prometheus.Histogram   // event time to alert written
	ConsumerLag      *prometheus.GaugeVec   // topic, partition
	Commits          *prometheus.CounterVec // result
	SinkErrors       *prometheus.CounterVec // sink
	RulesLoaded      *prometheus.GaugeVec   // kind
	RuleLoadErrors   prometheus.Gauge       // rules rejected by the last load
	Reloads          *prometheus.CounterVec // result
	BatchSize        prometheus.Histogram   // records per processed batch
	RuleEvalTime     *prometheus.CounterVec // rule_id: sampled evaluation seconds
	RuleEvals        *prometheus.CounterVec // rule_id: sampled evaluations
	ValueCache       *prometheus.CounterVec // result: hit, miss
	EventBytes       prometheus.Counter     // bytes of events consumed
	Up               *prometheus.GaugeVec   // component: 1 ready, 0 not
	Extra            map[string]prometheus.Collector
	mu               sync.Mutex
}

// New creates the collectors on a fresh registry, with Go and process metrics.
func New(version string) *Metrics {
	r := prometheus.NewRegistry()
	m := &Metrics{Registry: r, Extra: map[string]prometheus.Collector{}}
	f := func(c prometheus.Collector) { r.MustRegister(c) }
	m.Events = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "vigil_events_total", Help: "Events consumed, by topic (\"\" for files and stdin).",
	}, []string{"topic"})
	m.EventBytes = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "vigil_event_bytes_total", Help: "Bytes of events consumed.",
	})
	m.Rejected = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "vigil_events_rejected_total", Help: "Events that could not be decoded and went to the dead-letter destination, by reason.",
	}, []string{"reason"})
	m.RuleMatches = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "vigil_rule_matches_total", Help: "Events matched, by detection rule.",
	}, []string{"rule_id", "rule_title"})
	m.Alerts = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "vigil_alerts_total", Help: "Alerts written, by kind and level.",
	}, []string{"kind", "level"})
	m.ProcessingTime = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "vigil_processing_seconds",
		Help:    "Time from fetching a batch of events to its alerts being written, per batch.",
		Buckets: prometheus.ExponentialBuckets(0.0001, 2.5, 14),
	})
	m.DetectionLatency = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "vigil_detection_latency_seconds",
		Help:    "Time from an event's own timestamp to its alert being written (time to detect).",
		Buckets: prometheus.ExponentialBuckets(0.01, 3, 12),
	})
	m.ConsumerLag = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "vigil_kafka_consumer_lag_records", Help: "Records between the last processed offset and the partition's high-water mark.",
	}, []string{"topic", "partition"})
	m.Commits = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "vigil_kafka_commits_total", Help: "Offset commits, by result (ok, error).",
	}, []string{"result"})
	m.SinkErrors = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "vigil_sink_errors_total", Help: "Failed alert or dead-letter writes, by sink (retried).",
	}, []string{"sink"})
	m.RulesLoaded = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "vigil_rules_loaded", Help: "Rules in the running rule set, by kind.",
	}, []string{"kind"})
	m.RuleLoadErrors = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "vigil_rule_load_errors", Help: "Rules or files rejected by the last rule load.",
	})
	m.Reloads = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "vigil_rule_reloads_total", Help: "Rule set reloads, by result (ok, error).",
	}, []string{"result"})
	m.BatchSize = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name: "vigil_batch_records", Help: "Records per processed batch.",
		Buckets: prometheus.ExponentialBuckets(1, 4, 8),
	})
	m.RuleEvalTime = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "vigil_rule_eval_seconds_total", Help: "Sampled time spent evaluating each rule (see vigil_rule_evals_total for the sample count).",
	}, []string{"rule_id"})
	m.RuleEvals = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "vigil_rule_evals_total", Help: "Sampled evaluations of each rule.",
	}, []string{"rule_id"})
	m.ValueCache = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "vigil_value_cache_lookups_total", Help: "Event values looked up in the detection workers' value caches (what the candidate index found in recent values), by result: hit or miss.",
	}, []string{"result"})
	m.Up = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "vigil_component_up", Help: "1 when a component (source, sink, rules) is healthy.",
	}, []string{"component"})
	build := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "vigil_build_info", Help: "Vigil's version and Go version; always 1.",
	}, []string{"version", "goversion"})
	build.WithLabelValues(version, runtime.Version()).Set(1)
	for _, c := range []prometheus.Collector{m.Events, m.EventBytes, m.Rejected, m.RuleMatches, m.Alerts, m.ProcessingTime,
		m.DetectionLatency, m.ConsumerLag, m.Commits, m.SinkErrors, m.RulesLoaded, m.RuleLoadErrors, m.Reloads,
		m.BatchSize, m.RuleEvalTime, m.RuleEvals, m.ValueCache, m.Up, build,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{})} {
		f(c)
	}
	return m
}

// Register adds a collector owned by another package (correlation, response), once per name.
func (m *Metrics) Register(name string, c prometheus.Collector) prometheus.Collector {
	m.mu.Lock()
	defer m.mu.Unlock()
	if old, ok := m.Extra[name]; ok {
		return old
	}
	m.Registry.MustRegister(c)
	m.Extra[name] = c
	return c
}

// Health tracks readiness: every registered component must be up.
type Health struct {
	mu    sync.Mutex
	state map[string]string // component → "" when up, else why not
	up    *prometheus.GaugeVec
}

// NewHealth reports into m's vigil_component_up (m may be nil).
func NewHealth(m *Metrics) *Health {
	h := &Health{state: map[string]string{}}
	if m != nil {
		h.up = m.Up
	}
	return h
}

// Set marks a component up (reason "") or down.
func (h *Health) Set(component string, up bool, reason string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if up {
		reason = ""
	} else if reason == "" {
		reason = "not ready"
	}
	h.state[component] = reason
	if h.up != nil {
		v := 0.0
		if up {
			v = 1
		}
		h.up.WithLabelValues(component).Set(v)
	}
}

// Ready reports whether every component is up, and what is not.
func (h *Health) Ready() (bool, string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	var down []string
	for c, why := range h.state {
		if why != "" {
			down = append(down, c+": "+why)
		}
	}
	if len(h.state) == 0 {
		return false, "starting"
	}
	return len(down) == 0, strings.Join(down, "; ")
}

// Server serves /metrics, /healthz and /readyz.
type Server struct {
	srv  *http.Server
	ln   net.Listener
	Addr string // the address actually bound (port 0 resolved)
}

// Serve starts listening on addr (port 0 picks a free port). Extra handlers can be added to mux
// before or after.
func Serve(addr string, m *Metrics, h *Health, mux *http.ServeMux, log *slog.Logger) (*Server, error) {
	if mux == nil {
		mux = http.NewServeMux()
	}
	mux.Handle("/metrics", promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{Registry: m.Registry}))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, _ *http.Request) {
		ok, why := h.Ready()
		if !ok {
			http.Error(w, "not ready: "+why, http.StatusServiceUnavailable)
			return
		}
		w.Write([]byte("ready\n"))
	})
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	s := &Server{srv: &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}, ln: ln, Addr: ln.Addr().String()}
	go func() {
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("metrics server stopped", "error", err)
		}
	}()
	return s, nil
}

// Close shuts the server down.
func (s *Server) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	return s.srv.Shutdown(ctx)
}
