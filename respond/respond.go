// Package respond is the last stage of the pipeline: it enriches and scores alerts, merges
// duplicates, accumulates risk per entity and raises risk alerts, and runs playbooks whose
// actions (webhook, Kafka, exec) go through guard rails: dry-run by default, allowlists, rate
// limits, cooldowns, a circuit breaker, approvals, automatic reverts, and an audit record for
// every decision. docs/response.md describes the configuration.
//
// The stage runs on the pipeline's in-order goroutine and never waits for an action: actions
// run on a pool of workers fed by a bounded queue.
package respond

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"sort"
	"strings"
	"time"

	"github.com/vigil-detect/vigil/alert"
	"github.com/vigil-detect/vigil/config"
	"github.com/vigil-detect/vigil/metrics"
	"github.com/vigil-detect/vigil/respond/enrich"
	"github.com/vigil-detect/vigil/stream"
)

// Options are what the stage needs from the program hosting it.
type Options struct {
	File    string // the configuration file, for messages
	Log     *slog.Logger
	Metrics *metrics.Metrics // nil: metrics are not exported
	// Mux is the metrics server's mux; the approval API is added to it when
	// response.approvals.addr is "metrics".
	Mux *http.ServeMux
	// Kafka gives the connection settings for kafka actions and the audit topic (called only
	// when one is configured).
	Kafka      func() (stream.KafkaConfig, error)
	Version    string
	Now        func() time.Time // wall clock for the guard rails (tests); default time.Now
	OnDecision func(Decision)   // called for every audit record (the demo's console)
}

// Responder is the response pipeline stage.
type Responder struct {
	log       *slog.Logger
	now       func() time.Time
	met       *respMetrics
	enricher  *enrich.Enricher
	scorer    *Scorer
	risk      *riskTracker
	dedup     *deduper
	allow     *allowlist
	actions   map[string]*action
	playbooks []*playbook
	gates     map[string]*gate
	exec      *executor
	approvals *approvals
	audit     *auditor
	forceDry  bool
	stopWatch context.CancelFunc
	closed    bool
}

// FromConfig builds the stage from the configuration's response section; nil when there is
// none.
func FromConfig(cfg *config.Config, o Options) (*Responder, error) {
	if o.File == "" {
		o.File = cfg.Path
	}
	c, err := ParseConfig(&cfg.Response, o.File)
	if err != nil || c == nil {
		return nil, err
	}
	return New(c, o)
}

// New builds the stage from a validated configuration (see ParseConfig).
func New(c *Config, o Options) (*Responder, error) {
	if o.Log == nil {
		o.Log = slog.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Version == "" {
		o.Version = "dev"
	}
	r := &Responder{log: o.Log, now: o.Now, forceDry: c.ForceDryRun, actions: map[string]*action{}, gates: map[string]*gate{}}
	if c.Risk != nil {
		r.risk = newRiskTracker(c.Risk)
	}
	r.met = newRespMetrics(o.Metrics, func() float64 {
		if r.risk == nil {
			return 0
		}
		return float64(r.risk.cache.Len())
	}, func() float64 {
		if r.risk == nil {
			return 0
		}
		return float64(r.risk.evicted.Load())
	})
	r.scorer = newScorer(c.Scoring)
	if c.Suppress != nil {
		r.dedup = newDeduper(c.Suppress)
	}
	r.allow = newAllowlist(c.Allowlist)
	if err := statePath(c.RevertState); err != nil {
		return nil, err
	}

	if e := c.Enrichment; e != nil && (len(e.Indicators) > 0 || len(e.Assets) > 0) {
		src := enrich.Sources{Assets: e.Assets}
		for _, l := range e.Indicators {
			src.Lists = append(src.Lists, enrich.List{Name: l.Name, File: l.File, Type: l.Type})
		}
		en, err := enrich.New(src)
		if err != nil {
			return nil, fmt.Errorf("response.enrichment: %w", err)
		}
		r.enricher = en
		d := en.Data()
		r.log.Info("enrichment loaded", "indicators", d.Indicators, "assets", d.Assets)
		interval := defaultReload
		if e.ReloadInterval != nil {
			interval = e.ReloadInterval.D()
		}
		if interval > 0 {
			ctx, cancel := context.WithCancel(context.Background())
			r.stopWatch = cancel
			go en.Watch(ctx, interval, r.reported)
		}
	}

	global, _ := parseRate(c.RateLimit, defaultGlobalRate)
	onTrip := func(action, mode string, open bool) {
		v := 0.0
		if open {
			v = 1
			r.log.Warn("circuit breaker open: too many distinct targets in a minute; the action is suspended", "action", action, "mode", mode)
		} else {
			r.log.Info("circuit breaker closed", "action", action, "mode", mode)
		}
		r.met.circuitOpen.WithLabelValues(action, mode).Set(v)
	}
	r.gates[ModeEnforce] = newGate(ModeEnforce, o.Now, global, onTrip)
	r.gates[ModeDryRun] = newGate(ModeDryRun, o.Now, global, onTrip)
	names := make([]string, 0, len(c.Actions))
	for name := range c.Actions {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		a, err := buildAction(name, c.Actions[name], o)
		if err != nil {
			r.Close()
			return nil, err
		}
		r.actions[name] = a
		for _, g := range r.gates {
			g.add(a)
		}
	}
	needApproval := false
	for _, pc := range c.Playbooks {
		if pc.Enabled != nil && !*pc.Enabled {
			continue
		}
		p := compilePlaybook(pc, r.actions)
		if c.ForceDryRun {
			p.mode = ModeDryRun
		}
		for _, pa := range p.actions {
			needApproval = needApproval || pa.approval && p.mode == ModeEnforce
		}
		r.playbooks = append(r.playbooks, p)
	}

	audit, err := newAuditor(c.Audit, r.log, o.Now, r.met)
	if err != nil {
		r.Close()
		return nil, err
	}
	r.audit = audit
	if o.OnDecision != nil {
		audit.onDecision(o.OnDecision)
	}
	if c.Audit.KafkaTopic != "" {
		if o.Kafka == nil {
			r.Close()
			return nil, errors.New("response.audit.kafka_topic: no Kafka connection configured")
		}
		kc, err := o.Kafka()
		if err != nil {
			r.Close()
			return nil, fmt.Errorf("response.audit.kafka_topic: %w", err)
		}
		audit.startKafka(newKafkaWriter(kc, c.Audit.KafkaTopic))
	}

	r.exec = newExecutor(c.Queue, c.RevertState, r.actions, audit, r.met, r.log, o.Now)
	r.exec.start()
	if needApproval {
		r.approvals = newApprovals(c.Approvals, r.exec, audit, r.met, r.log, o.Now)
		go r.approvals.expireLoop()
		addr := c.Approvals.Addr
		if addr == "" {
			addr = defaultApprovalsAddr
		}
		if addr == "metrics" {
			if o.Mux == nil {
				r.Close()
				return nil, errors.New("response.approvals.addr: \"metrics\" shares the metrics listener, which only `vigil run` and `vigil demo` have; give an address")
			}
			o.Mux.Handle("/response/", r.approvals.handler())
		} else if err := r.approvals.listen(addr); err != nil {
			r.Close()
			return nil, fmt.Errorf("response.approvals.addr %s: %w", addr, err)
		}
	}
	if err := r.exec.loadReverts(); err != nil {
		r.Close()
		return nil, err
	}
	modes := map[string]int{}
	for _, p := range r.playbooks {
		modes[p.mode]++
	}
	r.log.Info("response ready", "playbooks", len(r.playbooks), "enforce", modes[ModeEnforce], "dry_run", modes[ModeDryRun],
		"actions", len(r.actions), "risk", r.risk != nil, "suppress", r.dedup != nil)
	return r, nil
}

func buildAction(name string, c *ActionConfig, o Options) (*action, error) {
	tpl, err := c.templates(name)
	if err != nil {
		return nil, fmt.Errorf("response.actions.%s: %w", name, err)
	}
	a := &action{
		name: name, typ: c.Type, target: c.Target, operation: name, tpl: tpl,
		timeout:      orDur(c.Timeout.D(), defaultTimeout),
		retries:      intOr(c.Retries, defaultRetries),
		backoff:      orDur(c.Backoff.D(), defaultBackoff),
		maxTargets:   intOr(c.MaxTargetsPerMinute, defaultMaxTargets),
		breakerReset: orDur(c.BreakerReset.D(), defaultBreakerReset),
		cooldown:     defaultCooldown,
		revertAfter:  c.RevertAfter.D(),
	}
	if c.Cooldown != nil {
		a.cooldown = c.Cooldown.D()
	}
	a.rate, _ = parseRate(c.RateLimit, defaultActionRate)
	if b, ok := builtins[name]; ok {
		a.target, a.operation, a.revertOp, a.reversible = b.target, b.operation, b.revert, b.reversible
	}
	if c.Revert != nil {
		a.reversible = true
		if a.revertOp == "" {
			a.revertOp = "revert_" + name
		}
	}
	switch c.Type {
	case "webhook":
		a.tr = newWebhook(c, o.Version, o.Now)
	case "kafka":
		a.tr = &kafkaAction{topic: c.Topic, conf: o.Kafka}
	case "exec":
		a.tr = execAction{env: c.Env}
	}
	return a, nil
}

func (r *Responder) reported(err error) {
	if err != nil {
		r.met.reloads.WithLabelValues("error").Inc()
		r.log.Error("enrichment reload failed; keeping the previous lists", "error", err)
		return
	}
	r.met.reloads.WithLabelValues("ok").Inc()
	d := r.enricher.Data()
	r.log.Info("enrichment reloaded", "indicators", d.Indicators, "assets", d.Assets)
}

// Reload reads the indicator and asset files again (for a SIGHUP handler); the previous lists
// stay when they do not load.
func (r *Responder) Reload() error {
	if r.enricher == nil {
		return nil
	}
	err := r.enricher.Reload()
	r.reported(err)
	return err
}

// OnDecision adds a hook that hears every audit record.
func (r *Responder) OnDecision(f func(Decision)) { r.audit.onDecision(f) }

// ApprovalAddr is the approval API's own listen address ("" when shared or off).
func (r *Responder) ApprovalAddr() string {
	if r.approvals == nil {
		return ""
	}
	return r.approvals.addr
}

// Process enriches, scores, merges, raises risk alerts and decides actions for a batch, in
// order. It returns the alerts with risk alerts after the alert that caused them and summaries
// of closed suppression windows at the end.
func (r *Responder) Process(_ context.Context, alerts []*alert.Alert, watermark time.Time) ([]*alert.Alert, error) {
	start := time.Now()
	out := make([]*alert.Alert, 0, len(alerts))
	var summaries []*alert.Alert
	for _, a := range alerts {
		out = append(out, a)
		if a.Suppressed {
			continue // feeds a correlation only: not ours
		}
		r.enrichAndScore(a)
		if r.dedup != nil && r.dedup.check(a, &summaries) {
			a.Suppressed = true
			r.met.suppressed.WithLabelValues(a.Rule.ID).Inc()
			continue
		}
		r.act(a, start)
		if r.risk != nil {
			for _, ra := range r.risk.add(a) {
				r.enrichAndScore(ra)
				r.met.riskAlerts.WithLabelValues(firstKey(ra.Group)).Inc()
				out = append(out, ra)
				r.act(ra, start)
			}
		}
	}
	if r.dedup != nil {
		r.dedup.expire(watermark, &summaries)
	}
	r.met.summaries.Add(float64(len(summaries)))
	return append(out, summaries...), nil
}

func firstKey(m map[string]string) string {
	for k := range m {
		return k
	}
	return ""
}

// Flush closes every open suppression window: the runner calls it when its input ends.
func (r *Responder) Flush(context.Context) ([]*alert.Alert, error) {
	if r.dedup == nil {
		return nil, nil
	}
	var out []*alert.Alert
	r.dedup.flush(&out)
	r.met.summaries.Add(float64(len(out)))
	return out, nil
}

func (r *Responder) enrichAndScore(a *alert.Alert) {
	if r.enricher != nil {
		inds, assets := r.enricher.Data().Match(a)
		if len(inds) > 0 || len(assets) > 0 {
			if a.Enrichment == nil {
				a.Enrichment = &alert.Enrichment{}
			}
			a.Enrichment.Indicators = append(a.Enrichment.Indicators, inds...)
			a.Enrichment.Assets = append(a.Enrichment.Assets, assets...)
			for _, h := range inds {
				r.met.indicatorHits.WithLabelValues(h.List).Inc()
			}
		}
	}
	r.scorer.Score(a)
}

// act runs the playbooks that match a.
func (r *Responder) act(a *alert.Alert, start time.Time) {
	for _, p := range r.playbooks {
		if !p.matches(a) {
			continue
		}
		for _, pa := range p.actions {
			for _, t := range targets(a, pa.act.target) {
				r.decide(p, pa, a, t, start)
			}
		}
	}
}

// decide makes and records one decision: allowlist, guard rails, then dry-run, approval or
// the queue.
func (r *Responder) decide(p *playbook, pa playbookAction, a *alert.Alert, target string, start time.Time) {
	act := pa.act
	d := Decision{
		ID:   alert.ID([]byte("decision"), []byte(a.ID), []byte(p.name), []byte(act.name), []byte(target)),
		Mode: p.mode, Playbook: p.name, Action: act.name, Type: act.typ, Operation: act.operation,
		TargetType: act.target, Target: target, Approval: pa.approval,
		AlertID: a.ID, AlertTime: a.Time, RuleID: a.Rule.ID, RuleTitle: a.Rule.Title, Score: a.Score,
	}
	skip := func(outcome, reason, msg string) {
		d.Outcome, d.Reason, d.Error = outcome, reason, msg
		r.audit.record(d)
	}
	if act.target != TargetAlert && r.allow.contains(act.target, target) {
		skip(OutcomeSkipped, ReasonAllowlisted, "")
		return
	}
	if act.target == TargetIP {
		if _, err := netip.ParseAddr(target); err != nil {
			skip(OutcomeSkipped, ReasonInvalidTarget, fmt.Sprintf("%q is not an IP address", target))
			return
		}
	}
	if p.mode == ModeEnforce && !pa.approval && r.exec.full() {
		skip(OutcomeSkipped, ReasonQueueFull, "")
		return
	}
	key := target
	if act.target == TargetAlert {
		// Alert-scoped actions (tickets, notifications) cool down per rule and entities, so a
		// repeating alert does not open a ticket each time.
		key = identity(a, []string{TargetUser, TargetHost, TargetIP})
	}
	if reason := r.gates[p.mode].admit(act.name, key); reason != "" {
		skip(OutcomeSkipped, reason, "")
		return
	}
	// Rendered only once admitted: in an alert storm most decisions stop at the guard rails, and
	// rendering (the alert as JSON) is the expensive part of a decision.
	data := &TemplateData{
		Alert: a, Target: target, TargetType: act.target, Action: act.name, Operation: act.operation,
		Playbook: p.name, Mode: p.mode, DecisionID: d.ID, Params: pa.params, Time: r.now().UTC(),
	}
	req, err := act.tpl.render(act.typ, data, false)
	if err != nil {
		skip(OutcomeFailed, ReasonTemplate, err.Error())
		return
	}
	if p.mode == ModeDryRun {
		d.Outcome, d.Request = OutcomeDryRun, req
		r.audit.record(d)
		return
	}
	j := &job{d: d, act: act, req: req, data: data, start: start}
	if pa.approval {
		if reason := r.approvals.add(j); reason != "" {
			skip(OutcomeSkipped, reason, "")
		}
		return
	}
	d.Outcome = OutcomeQueued
	r.audit.record(d)
	if !r.exec.tryEnqueue(j) {
		skip(OutcomeFailed, ReasonQueueFull, "the queue filled between the check and the hand-over")
	}
}

// Close stops the approval API (pending approvals expire), lets queued actions finish within
// the drain timeout, then closes transports and the audit log.
func (r *Responder) Close() {
	if r.closed {
		return
	}
	r.closed = true
	if r.stopWatch != nil {
		r.stopWatch()
	}
	if r.dedup != nil {
		// The runner flushes at the end of its input; a stop before that (a Kafka agent shutting
		// down) leaves windows open. Their counts go to the log rather than nowhere.
		var open []*alert.Alert
		r.dedup.flush(&open)
		for _, s := range open {
			r.log.Warn("suppression window open at shutdown: duplicates withheld and not summarised in an alert",
				"rule", s.Rule.Title, "rule_id", s.Rule.ID, "count", s.Count, "last_alert", s.ID, "last_time", s.Time,
				"users", s.Entities.User, "hosts", s.Entities.Host, "ips", s.Entities.IP)
		}
	}
	if r.approvals != nil {
		r.approvals.close()
	}
	if r.exec != nil {
		r.exec.close()
	}
	for _, a := range r.actions {
		a.tr.close()
	}
	if r.audit != nil {
		r.audit.close()
	}
}

// Describe summarises the configuration for logs and the demo banner.
func (r *Responder) Describe() string {
	var parts []string
	for _, p := range r.playbooks {
		parts = append(parts, p.name+" ("+p.mode+")")
	}
	return strings.Join(parts, ", ")
}
