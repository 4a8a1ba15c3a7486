package respond

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"
)

// approvals holds actions marked `approval: required` until a person approves or denies them
// over the HTTP API, or they expire.
type approvals struct {
	mu      sync.Mutex
	pending map[string]*pendingJob
	token   [32]byte // SHA-256 of the bearer token: compared in constant time, length hidden
	expire  time.Duration
	max     int
	now     func() time.Time
	exec    *executor
	audit   *auditor
	met     *respMetrics
	log     *slog.Logger
	stop    chan struct{}
	done    chan struct{}
	server  *http.Server
	addr    string
}

type pendingJob struct {
	job     *job
	created time.Time
	expires time.Time
}

func newApprovals(c Approvals, exec *executor, audit *auditor, met *respMetrics, log *slog.Logger, now func() time.Time) *approvals {
	return &approvals{
		pending: map[string]*pendingJob{}, token: sha256.Sum256([]byte(c.Token)),
		expire: orDur(c.Expire.D(), defaultExpire), max: orInt(c.MaxPending, defaultMaxPending), now: now, exec: exec, audit: audit, met: met, log: log,
		stop: make(chan struct{}), done: make(chan struct{}),
	}
}

// add queues a job for approval; otherwise it returns why not.
func (p *approvals) add(j *job) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, dup := p.pending[j.d.ID]; dup {
		return ReasonAlreadyPending
	}
	if len(p.pending) >= p.max {
		return ReasonApprovalsFull
	}
	now := p.now()
	pj := &pendingJob{job: j, created: now, expires: now.Add(p.expire)}
	p.pending[j.d.ID] = pj
	p.met.pending.Set(float64(len(p.pending)))
	d := j.d
	d.Outcome, d.Expires, d.Request = OutcomePending, pj.expires.UTC(), j.req
	p.audit.record(d)
	return ""
}

// expireLoop expires what nobody decided in time.
func (p *approvals) expireLoop() {
	defer close(p.done)
	tick := time.NewTicker(min(time.Second, max(p.expire/4, 10*time.Millisecond)))
	defer tick.Stop()
	for {
		select {
		case <-p.stop:
			return
		case <-tick.C:
			p.expireDue(false)
		}
	}
}

// expireDue expires due approvals, or all of them at shutdown.
func (p *approvals) expireDue(all bool) {
	now := p.now()
	p.mu.Lock()
	var gone []*pendingJob
	for id, pj := range p.pending {
		if all || !now.Before(pj.expires) {
			gone = append(gone, pj)
			delete(p.pending, id)
		}
	}
	p.met.pending.Set(float64(len(p.pending)))
	p.mu.Unlock()
	sort.Slice(gone, func(i, j int) bool { return gone[i].created.Before(gone[j].created) })
	for _, pj := range gone {
		d := pj.job.d
		d.Outcome, d.Expires = OutcomeExpired, pj.expires.UTC()
		if all {
			d.Reason = ReasonShutdown
		}
		p.audit.record(d)
	}
}

// take removes a pending job for a decision by a person.
func (p *approvals) take(id string) *pendingJob {
	p.mu.Lock()
	defer p.mu.Unlock()
	pj := p.pending[id]
	if pj == nil {
		return nil
	}
	if !p.now().Before(pj.expires) {
		return nil // expired: the loop records it
	}
	delete(p.pending, id)
	p.met.pending.Set(float64(len(p.pending)))
	return pj
}

// authorized checks the bearer token in constant time.
func (p *approvals) authorized(r *http.Request) bool {
	h := r.Header.Get("Authorization")
	scheme, tok, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return false
	}
	sum := sha256.Sum256([]byte(strings.TrimSpace(tok)))
	return subtle.ConstantTimeCompare(sum[:], p.token[:]) == 1
}

// PendingApproval is one entry of GET /response/approvals.
type PendingApproval struct {
	Decision
	Created time.Time `json:"created"`
}

// handler serves the approval API:
//
//	GET  /response/approvals               pending approvals (JSON array)
//	POST /response/approvals/{id}/approve  run the action now
//	POST /response/approvals/{id}/deny     drop it
//
// Every request needs "Authorization: Bearer <token>". POST bodies may carry
// {"by": "who", "comment": "why"}, recorded in the audit log.
func (p *approvals) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /response/approvals", func(w http.ResponseWriter, _ *http.Request) {
		p.mu.Lock()
		list := make([]PendingApproval, 0, len(p.pending))
		for _, pj := range p.pending {
			d := pj.job.d
			d.Outcome, d.Expires, d.Request = OutcomePending, pj.expires.UTC(), pj.job.req
			list = append(list, PendingApproval{Decision: d, Created: pj.created.UTC()})
		}
		p.mu.Unlock()
		sort.Slice(list, func(i, j int) bool { return list[i].Created.Before(list[j].Created) })
		writeJSON(w, http.StatusOK, list)
	})
	decide := func(approve bool) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			var body struct {
				By      string `json:"by"`
				Comment string `json:"comment"`
			}
			data, _ := io.ReadAll(io.LimitReader(r.Body, 64<<10))
			if len(strings.TrimSpace(string(data))) > 0 {
				if err := json.Unmarshal(data, &body); err != nil {
					writeJSON(w, http.StatusBadRequest, map[string]string{"error": "body must be JSON: {\"by\": ..., \"comment\": ...}"})
					return
				}
			}
			if body.By == "" {
				body.By = "api"
			}
			id := r.PathValue("id")
			pj := p.take(id)
			if pj == nil {
				writeJSON(w, http.StatusNotFound, map[string]string{"error": "no pending approval " + id + " (unknown, decided or expired)"})
				return
			}
			d := pj.job.d
			d.By, d.Comment = body.By, body.Comment
			if !approve {
				d.Outcome = OutcomeDenied
				p.audit.record(d)
				writeJSON(w, http.StatusOK, map[string]string{"decision": id, "outcome": OutcomeDenied})
				return
			}
			d.Outcome = OutcomeApproved
			p.audit.record(d)
			pj.job.d.By, pj.job.d.Comment = body.By, body.Comment
			if !p.exec.enqueueWait(pj.job, 5*time.Second) {
				d.Outcome, d.Reason = OutcomeFailed, ReasonQueueFull
				if p.exec.isClosed() {
					d.Reason = ReasonShutdown
				}
				p.audit.record(d)
				writeJSON(w, http.StatusServiceUnavailable, map[string]string{"decision": id, "outcome": OutcomeFailed, "reason": d.Reason})
				return
			}
			writeJSON(w, http.StatusAccepted, map[string]string{"decision": id, "outcome": OutcomeApproved})
		}
	}
	mux.HandleFunc("POST /response/approvals/{id}/approve", decide(true))
	mux.HandleFunc("POST /response/approvals/{id}/deny", decide(false))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !p.authorized(r) {
			p.met.authFailures.Inc()
			p.log.Warn("approval API request rejected: missing or wrong bearer token", "remote", r.RemoteAddr, "method", r.Method, "path", r.URL.Path)
			w.Header().Set("WWW-Authenticate", `Bearer realm="vigil"`)
			writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "unauthorized"})
			return
		}
		mux.ServeHTTP(w, r)
	})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(v)
}

// listen serves the API on its own address.
func (p *approvals) listen(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	if host, _, _ := net.SplitHostPort(addr); host != "127.0.0.1" && host != "::1" && host != "localhost" {
		p.log.Warn("the approval API listens beyond loopback: put TLS in front of it", "addr", ln.Addr().String())
	}
	p.addr = ln.Addr().String()
	mux := http.NewServeMux()
	mux.Handle("/response/", p.handler())
	p.server = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 30 * time.Second, WriteTimeout: 30 * time.Second}
	go func() {
		if err := p.server.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			p.log.Error("approval API stopped", "error", err)
		}
	}()
	p.log.Info("approval API listening", "url", "http://"+p.addr+"/response/approvals")
	return nil
}

func (p *approvals) close() {
	close(p.stop)
	<-p.done
	if p.server != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		p.server.Shutdown(ctx)
		cancel()
	}
	p.expireDue(true)
}
