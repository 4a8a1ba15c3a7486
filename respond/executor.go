package respond

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// action is a named action ready to run.
type action struct {
	name         string
	typ          string
	target       string // ip, user, host, alert
	operation    string
	revertOp     string
	reversible   bool
	tpl          *templates
	tr           transport
	timeout      time.Duration
	retries      int
	backoff      time.Duration
	rate         rate
	cooldown     time.Duration
	maxTargets   int
	breakerReset time.Duration
	revertAfter  time.Duration
}

// job is one execution of an action: the decision so far and the rendered request.
type job struct {
	d      Decision
	act    *action
	req    *request
	data   *TemplateData // to render the revert
	revert bool
	start  time.Time // when the alert reached the response stage (for latency)
}

// executor runs jobs on a fixed pool of workers from a bounded queue. Enqueueing from the
// pipeline never waits: a full queue is a decision (skipped, queue_full) in the audit log.
type executor struct {
	queue   chan *job
	workers int
	audit   *auditor
	met     *respMetrics
	log     *slog.Logger
	now     func() time.Time
	drain   time.Duration

	ctx    context.Context // cancelled when draining takes too long
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu      sync.Mutex
	closed  bool
	reverts map[string]*scheduledRevert // decision id → pending revert
	state   string                      // revert state file ("" keeps reverts in memory only)
	actions map[string]*action
}

type scheduledRevert struct {
	Decision Decision  `json:"decision"`
	Action   string    `json:"action"`
	Due      time.Time `json:"due"`
	Request  *request  `json:"request"`
	timer    *time.Timer
}

func newExecutor(q Queue, state string, actions map[string]*action, audit *auditor, met *respMetrics, log *slog.Logger, now func() time.Time) *executor {
	e := &executor{
		queue: make(chan *job, orInt(q.Size, defaultQueueSize)), workers: orInt(q.Workers, defaultWorkers),
		audit: audit, met: met, log: log, now: now, drain: orDur(q.DrainTimeout.D(), defaultDrainTimeout),
		reverts: map[string]*scheduledRevert{}, state: state, actions: actions,
	}
	e.ctx, e.cancel = context.WithCancel(context.Background())
	return e
}

func orInt(v, d int) int {
	if v > 0 {
		return v
	}
	return d
}

func orDur(v, d time.Duration) time.Duration {
	if v > 0 {
		return v
	}
	return d
}

func (e *executor) start() {
	for i := 0; i < e.workers; i++ {
		e.wg.Add(1)
		go func() {
			defer e.wg.Done()
			for j := range e.queue {
				e.met.queueDepth.Set(float64(len(e.queue)))
				e.run(j)
			}
		}()
	}
}

// full reports whether the queue has no room.
func (e *executor) full() bool { return len(e.queue) >= cap(e.queue) }

// tryEnqueue hands a job to the workers without waiting.
func (e *executor) tryEnqueue(j *job) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return false
	}
	select {
	case e.queue <- j:
		e.met.queueDepth.Set(float64(len(e.queue)))
		return true
	default:
		return false
	}
}

// enqueueWait waits up to d for room (approvals and reverts, which are not on the pipeline's
// path).
func (e *executor) enqueueWait(j *job, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for {
		if e.tryEnqueue(j) {
			return true
		}
		e.mu.Lock()
		closed := e.closed
		e.mu.Unlock()
		if closed || time.Now().After(deadline) {
			return false
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// run executes a job with its timeout, retrying transient failures with exponential backoff.
func (e *executor) run(j *job) {
	a := j.act
	d := j.d
	d.Request = j.req
	success, failure := OutcomeExecuted, OutcomeFailed
	if j.revert {
		success, failure = OutcomeReverted, OutcomeRevertFailed
	}
	backoff := a.backoff
	for attempt := 1; ; attempt++ {
		d.Attempt = attempt
		if e.ctx.Err() != nil {
			d.Outcome, d.Reason, d.Error = failure, ReasonShutdown, "the agent stopped before the action ran"
			e.audit.record(d)
			e.abandon(j)
			return
		}
		ctx, cancel := context.WithTimeout(e.ctx, a.timeout)
		result, err := a.tr.send(ctx, j)
		cancel()
		d.Result = result
		if err == nil {
			d.Outcome, d.Error = success, ""
			if !j.revert {
				d.Latency = time.Since(j.start).Seconds()
				e.met.latency.WithLabelValues(a.name).Observe(d.Latency)
				if a.reversible && a.revertAfter > 0 {
					d.RevertAt = e.now().Add(a.revertAfter).UTC()
				}
			}
			e.audit.record(d)
			if !j.revert && !d.RevertAt.IsZero() {
				e.scheduleRevert(j, d.RevertAt)
			}
			return
		}
		d.Error = err.Error()
		if !isTransient(err) || attempt > a.retries || e.ctx.Err() != nil {
			d.Outcome = failure
			if e.ctx.Err() != nil {
				d.Reason = ReasonShutdown
			}
			e.audit.record(d)
			e.abandon(j)
			return
		}
		d.Outcome = OutcomeRetry
		e.audit.record(d)
		select {
		case <-time.After(backoff):
		case <-e.ctx.Done():
		}
		backoff = min(2*backoff, 30*time.Second)
	}
}

// abandon records that a revert that could not run is left for a person.
func (e *executor) abandon(j *job) {
	if j.revert {
		e.log.Error("automatic revert failed: undo it by hand", "action", j.act.name, "target", j.d.Target, "decision", j.d.ID)
	}
}

// scheduleRevert renders the undo of a successful job now (the alert is at hand) and schedules
// it for due.
func (e *executor) scheduleRevert(j *job, due time.Time) {
	a := j.act
	data := *j.data
	data.Revert, data.Operation = true, a.revertOp
	d := j.d
	d.Operation = a.revertOp
	req, err := a.tpl.render(a.typ, &data, true)
	if err != nil {
		d.Outcome, d.Reason, d.Error, d.RevertAt = OutcomeRevertFailed, ReasonTemplate, err.Error(), due
		e.audit.record(d)
		e.log.Error("automatic revert impossible: undo it by hand", "action", a.name, "target", d.Target, "decision", d.ID)
		return
	}
	e.schedule(&scheduledRevert{Decision: d, Action: a.name, Due: due, Request: req})
}

// schedule arranges a revert, persisting it when a state file is configured.
func (e *executor) schedule(r *scheduledRevert) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return
	}
	if old := e.reverts[r.Decision.ID]; old != nil && old.timer != nil {
		old.timer.Stop()
	}
	e.reverts[r.Decision.ID] = r
	r.timer = time.AfterFunc(max(0, r.Due.Sub(e.now())), func() { e.fireRevert(r) })
	e.saveLocked()
}

func (e *executor) fireRevert(r *scheduledRevert) {
	e.mu.Lock()
	if e.closed || e.reverts[r.Decision.ID] != r {
		e.mu.Unlock()
		return
	}
	delete(e.reverts, r.Decision.ID)
	e.saveLocked()
	a := e.actions[r.Action]
	e.mu.Unlock()
	d := r.Decision
	d.Attempt, d.Result, d.Error, d.Reason, d.Latency = 0, "", "", "", 0
	d.RevertAt = r.Due
	if a == nil || r.Request == nil {
		d.Outcome, d.Error = OutcomeRevertFailed, fmt.Sprintf("action %q is no longer configured", r.Action)
		e.audit.record(d)
		e.log.Error("automatic revert impossible: undo it by hand", "action", r.Action, "target", d.Target, "decision", d.ID)
		return
	}
	j := &job{d: d, act: a, req: r.Request, revert: true, start: time.Now()}
	if !e.enqueueWait(j, e.drain) {
		d.Outcome, d.Reason = OutcomeRevertFailed, ReasonQueueFull
		if e.isClosed() {
			d.Outcome, d.Reason = OutcomeRevertAbandoned, ReasonShutdown
		}
		e.audit.record(d)
		e.log.Error("automatic revert not run: undo it by hand", "action", r.Action, "target", d.Target, "decision", d.ID)
	}
}

func (e *executor) isClosed() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.closed
}

// saveLocked writes the pending reverts to the state file (atomically, by rename).
func (e *executor) saveLocked() {
	if e.state == "" {
		return
	}
	list := make([]*scheduledRevert, 0, len(e.reverts))
	for _, r := range e.reverts {
		list = append(list, r)
	}
	data, err := json.MarshalIndent(list, "", "  ")
	if err == nil {
		tmp := e.state + ".tmp"
		if err = os.WriteFile(tmp, data, 0o600); err == nil {
			err = os.Rename(tmp, e.state)
		}
	}
	if err != nil {
		e.log.Error("saving pending reverts failed; they will be lost if the agent stops", "file", e.state, "error", err)
	}
}

// loadReverts resumes the reverts a previous run left in the state file.
func (e *executor) loadReverts() error {
	if e.state == "" {
		return nil
	}
	data, err := os.ReadFile(e.state)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("response.revert_state: %w", err)
	}
	var list []*scheduledRevert
	if err := json.Unmarshal(data, &list); err != nil {
		return fmt.Errorf("response.revert_state %s: %w", e.state, err)
	}
	for _, r := range list {
		e.log.Info("resuming a pending revert", "action", r.Action, "target", r.Decision.Target, "due", r.Due)
		e.schedule(r)
	}
	return nil
}

// close stops taking jobs, lets the queue drain for up to the drain timeout, then cancels what
// is still running. Pending reverts stay in the state file, or are reported as abandoned.
func (e *executor) close() {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return
	}
	e.closed = true
	close(e.queue)
	for _, r := range e.reverts {
		r.timer.Stop()
	}
	e.mu.Unlock()

	done := make(chan struct{})
	go func() {
		e.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(e.drain):
		e.log.Warn("response actions still running at shutdown; cancelling them", "drain_timeout", e.drain)
		e.cancel()
		<-done
	}
	e.cancel()

	e.mu.Lock()
	defer e.mu.Unlock()
	if e.state != "" {
		e.saveLocked()
		if len(e.reverts) > 0 {
			e.log.Info("pending reverts saved; the next start resumes them", "file", e.state, "reverts", len(e.reverts))
		}
		return
	}
	for _, r := range e.reverts {
		d := r.Decision
		d.Outcome, d.Reason, d.RevertAt = OutcomeRevertAbandoned, ReasonShutdown, r.Due
		d.Error = "no response.revert_state file: undo it by hand"
		d.Attempt, d.Result, d.Latency = 0, "", 0
		e.audit.record(d)
	}
}

// statePath checks the state file's directory exists, so a typo fails at start.
func statePath(p string) error {
	if p == "" {
		return nil
	}
	if fi, err := os.Stat(filepath.Dir(p)); err != nil || !fi.IsDir() {
		return fmt.Errorf("response.revert_state %s: directory does not exist", p)
	}
	return nil
}
