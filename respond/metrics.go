package respond

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/vigil-detect/vigil/metrics"
)

// respMetrics are the response stage's collectors. Without a metrics registry (vigil eval) they
// still count, unregistered, so the code has one path.
type respMetrics struct {
	decisions     *prometheus.CounterVec   // action, outcome
	latency       *prometheus.HistogramVec // action
	queueDepth    prometheus.Gauge
	pending       prometheus.Gauge
	circuitOpen   *prometheus.GaugeVec   // action
	authFailures  prometheus.Counter     // approval API
	suppressed    *prometheus.CounterVec // rule_id
	summaries     prometheus.Counter
	riskAlerts    *prometheus.CounterVec // entity_type
	riskEntities  prometheus.GaugeFunc
	riskEvictions prometheus.CounterFunc
	indicatorHits *prometheus.CounterVec // list
	reloads       *prometheus.CounterVec // result
	auditErrors   *prometheus.CounterVec // destination
}

func newRespMetrics(m *metrics.Metrics, riskLen func() float64, riskEvicted func() float64) *respMetrics {
	r := &respMetrics{
		decisions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vigil_response_decisions_total", Help: "Response decisions and their outcomes, by action (executed, dry_run, skipped, failed, ...).",
		}, []string{"action", "outcome"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "vigil_response_latency_seconds",
			Help:    "Time from an alert reaching the response stage to its action succeeding (time to respond; includes approval waits and retries).",
			Buckets: prometheus.ExponentialBuckets(0.001, 4, 12),
		}, []string{"action"}),
		queueDepth: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "vigil_response_queue_depth", Help: "Actions waiting for a worker.",
		}),
		pending: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "vigil_response_pending_approvals", Help: "Actions waiting for approval.",
		}),
		circuitOpen: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "vigil_response_circuit_open", Help: "1 while an action's circuit breaker is open (too many distinct targets per minute), by mode.",
		}, []string{"action", "mode"}),
		authFailures: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "vigil_response_api_auth_failures_total", Help: "Approval API requests rejected for missing or wrong credentials.",
		}),
		suppressed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vigil_alerts_suppressed_total", Help: "Alerts withheld as duplicates of an open suppression window, by rule.",
		}, []string{"rule_id"}),
		summaries: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "vigil_alerts_merged_total", Help: "Summary alerts emitted for closed suppression windows.",
		}),
		riskAlerts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vigil_risk_alerts_total", Help: "Risk alerts raised, by entity type.",
		}, []string{"entity_type"}),
		riskEntities: prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "vigil_risk_entities", Help: "Entities with tracked risk.",
		}, riskLen),
		riskEvictions: prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "vigil_risk_evictions_total", Help: "Entities forgotten to bound risk state (least recently seen first).",
		}, riskEvicted),
		indicatorHits: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vigil_indicator_hits_total", Help: "Threat-intelligence indicator matches on alerts, by list.",
		}, []string{"list"}),
		reloads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vigil_enrichment_reloads_total", Help: "Reloads of indicator and asset files, by result (ok, error).",
		}, []string{"result"}),
		auditErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vigil_response_audit_errors_total", Help: "Audit records that could not be written, by destination (file, kafka).",
		}, []string{"destination"}),
	}
	if m == nil {
		return r
	}
	// Register returns an existing collector of the same name (stages built twice in one
	// process): use it so both count into what /metrics shows.
	reg := func(name string, c prometheus.Collector) prometheus.Collector { return m.Register(name, c) }
	r.decisions = reg("vigil_response_decisions_total", r.decisions).(*prometheus.CounterVec)
	r.latency = reg("vigil_response_latency_seconds", r.latency).(*prometheus.HistogramVec)
	r.queueDepth = reg("vigil_response_queue_depth", r.queueDepth).(prometheus.Gauge)
	r.pending = reg("vigil_response_pending_approvals", r.pending).(prometheus.Gauge)
	r.circuitOpen = reg("vigil_response_circuit_open", r.circuitOpen).(*prometheus.GaugeVec)
	r.authFailures = reg("vigil_response_api_auth_failures_total", r.authFailures).(prometheus.Counter)
	r.suppressed = reg("vigil_alerts_suppressed_total", r.suppressed).(*prometheus.CounterVec)
	r.summaries = reg("vigil_alerts_merged_total", r.summaries).(prometheus.Counter)
	r.riskAlerts = reg("vigil_risk_alerts_total", r.riskAlerts).(*prometheus.CounterVec)
	reg("vigil_risk_entities", r.riskEntities)
	reg("vigil_risk_evictions_total", r.riskEvictions)
	r.indicatorHits = reg("vigil_indicator_hits_total", r.indicatorHits).(*prometheus.CounterVec)
	r.reloads = reg("vigil_enrichment_reloads_total", r.reloads).(*prometheus.CounterVec)
	r.auditErrors = reg("vigil_response_audit_errors_total", r.auditErrors).(*prometheus.CounterVec)
	return r
}
