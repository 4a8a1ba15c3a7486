package respond

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/segmentio/kafka-go"
)

// Outcomes of a decision, as written to the audit log.
const (
	OutcomeDryRun          = "dry_run"          // mode dry-run: logged, nothing executed
	OutcomeSkipped         = "skipped"          // a guard rail stopped it; Reason says which
	OutcomeQueued          = "queued"           // handed to the workers
	OutcomeExecuted        = "executed"         // the transport succeeded
	OutcomeRetry           = "retry"            // an attempt failed transiently; another follows
	OutcomeFailed          = "failed"           // gave up: permanent error, retries exhausted or shutdown
	OutcomePending         = "pending_approval" // waits for a person
	OutcomeApproved        = "approved"
	OutcomeDenied          = "denied"
	OutcomeExpired         = "expired" // nobody decided in time (or the agent stopped)
	OutcomeReverted        = "reverted"
	OutcomeRevertFailed    = "revert_failed"
	OutcomeRevertAbandoned = "revert_abandoned" // the agent stopped before the revert was due and has no revert_state file
)

// Reasons a decision was skipped or failed without an error from the transport.
const (
	ReasonAllowlisted       = "allowlisted"
	ReasonCooldown          = "cooldown"
	ReasonRateLimited       = "rate_limited"
	ReasonGlobalRateLimited = "global_rate_limited"
	ReasonCircuitOpen       = "circuit_open"
	ReasonQueueFull         = "queue_full"
	ReasonInvalidTarget     = "invalid_target"
	ReasonTemplate          = "template_error"
	ReasonShutdown          = "shutdown"
	ReasonAlreadyPending    = "already_pending"
	ReasonApprovalsFull     = "approvals_full" // approvals.max_pending actions already wait
)

// Decision is one audit record: what was decided about one action for one alert and target,
// and what came of it. A decision produces several records over its life (queued, then
// executed or failed; pending_approval, then approved or denied or expired; later reverted).
type Decision struct {
	Time       time.Time `json:"time"` // when this record was written (wall clock)
	ID         string    `json:"decision"`
	Outcome    string    `json:"outcome"`
	Reason     string    `json:"reason,omitempty"`
	Error      string    `json:"error,omitempty"`
	Mode       string    `json:"mode"`
	Playbook   string    `json:"playbook"`
	Action     string    `json:"action"`
	Type       string    `json:"type"`
	Operation  string    `json:"operation"`
	TargetType string    `json:"target_type"`
	Target     string    `json:"target,omitempty"`
	Approval   bool      `json:"approval_required,omitempty"`
	AlertID    string    `json:"alert_id"`
	AlertTime  time.Time `json:"alert_time"`
	RuleID     string    `json:"rule_id,omitempty"`
	RuleTitle  string    `json:"rule_title,omitempty"`
	Score      int       `json:"score"`
	Attempt    int       `json:"attempt,omitempty"`
	By         string    `json:"by,omitempty"`
	Comment    string    `json:"comment,omitempty"`
	Expires    time.Time `json:"expires,omitzero"`
	RevertAt   time.Time `json:"revert_at,omitzero"`
	Latency    float64   `json:"latency_seconds,omitempty"` // alert reached response → executed
	Result     string    `json:"result,omitempty"`          // HTTP status, exit status, partition
	Request    *request  `json:"request,omitempty"`         // what was (or would be) sent
}

// auditor writes decisions to the log, the audit file, the audit topic and the hooks.
type auditor struct {
	log     *slog.Logger
	now     func() time.Time
	met     *respMetrics
	mu      sync.Mutex
	file    *os.File
	hooks   []func(Decision)
	kafka   chan []byte
	writer  *kafka.Writer
	done    chan struct{}
	dropped int
}

func newAuditor(c Audit, log *slog.Logger, now func() time.Time, met *respMetrics) (*auditor, error) {
	a := &auditor{log: log, now: now, met: met}
	if c.File != "" {
		f, err := os.OpenFile(c.File, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o640)
		if err != nil {
			return nil, fmt.Errorf("response.audit.file: %w", err)
		}
		a.file = f
	}
	return a, nil
}

// startKafka produces every record to a topic from a goroutine with a bounded buffer: the
// file and the log stay the durable records when the broker is slow.
func (a *auditor) startKafka(w *kafka.Writer) {
	a.writer = w
	ch := make(chan []byte, 4096)
	a.kafka = ch
	a.done = make(chan struct{})
	go func() {
		defer close(a.done)
		for v := range ch {
			msgs := []kafka.Message{{Value: v}}
			for more := true; more && len(msgs) < 500; {
				select {
				case v, ok := <-ch:
					if !ok {
						more = false
						break
					}
					msgs = append(msgs, kafka.Message{Value: v})
				default:
					more = false
				}
			}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			err := w.WriteMessages(ctx, msgs...)
			cancel()
			if err != nil {
				a.met.auditErrors.WithLabelValues("kafka").Add(float64(len(msgs)))
				a.log.Error("audit records not produced to Kafka (they are in the log and the audit file)", "records", len(msgs), "error", err)
			}
		}
	}()
}

func (a *auditor) onDecision(f func(Decision)) {
	a.mu.Lock()
	a.hooks = append(a.hooks, f)
	a.mu.Unlock()
}

func (a *auditor) record(d Decision) {
	if d.Time.IsZero() {
		d.Time = a.now().UTC()
	}
	a.met.decisions.WithLabelValues(d.Action, d.Outcome).Inc()
	line, err := json.Marshal(d)
	if err != nil { // cannot happen with these field types; keep the record in the log anyway
		line = []byte(fmt.Sprintf(`{"decision":%q,"outcome":%q,"error":%q}`, d.ID, d.Outcome, err.Error()))
	}
	attrs := []any{"outcome", d.Outcome, "action", d.Action, "target", d.Target, "playbook", d.Playbook, "mode", d.Mode, "decision", d.ID, "alert", d.AlertID}
	if d.Reason != "" {
		attrs = append(attrs, "reason", d.Reason)
	}
	if d.Error != "" {
		attrs = append(attrs, "error", d.Error)
	}
	if d.By != "" {
		attrs = append(attrs, "by", d.By)
	}
	switch d.Outcome {
	case OutcomeFailed, OutcomeRevertFailed, OutcomeRevertAbandoned:
		a.log.Warn("response decision", attrs...)
	case OutcomeSkipped:
		if d.Reason == ReasonCooldown {
			a.log.Debug("response decision", attrs...)
		} else {
			a.log.Info("response decision", attrs...)
		}
	default:
		a.log.Info("response decision", attrs...)
	}
	a.mu.Lock()
	if a.file != nil {
		if _, err := a.file.Write(append(line, '\n')); err != nil {
			a.met.auditErrors.WithLabelValues("file").Inc()
			a.log.Error("audit file write failed (the record is in the log)", "error", err)
		}
	}
	hooks := a.hooks
	if a.kafka != nil {
		select {
		case a.kafka <- line:
		default:
			a.met.auditErrors.WithLabelValues("kafka").Inc()
			a.dropped++
		}
	}
	a.mu.Unlock()
	for _, h := range hooks {
		h(d)
	}
}

func (a *auditor) close() {
	a.mu.Lock()
	if a.kafka != nil {
		close(a.kafka)
		a.kafka = nil
	}
	a.mu.Unlock()
	if a.done != nil {
		<-a.done
		a.writer.Close()
		a.done = nil
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.dropped > 0 {
		a.log.Error("audit records not produced to Kafka because its buffer was full (they are in the log and the audit file)", "records", a.dropped)
		a.dropped = 0
	}
	if a.file != nil {
		if err := a.file.Close(); err != nil {
			a.log.Error("closing the audit file", "error", err)
		}
		a.file = nil
	}
}
