package respond

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/vigil-detect/vigil/stream"
)

// transport sends one rendered request. Errors wrapped in transientError are retried.
type transport interface {
	send(ctx context.Context, j *job) (result string, err error)
	close()
}

type transientError struct{ err error }

func (e *transientError) Error() string { return e.err.Error() }
func (e *transientError) Unwrap() error { return e.err }

func transient(err error) error { return &transientError{err} }

func isTransient(err error) bool {
	var t *transientError
	return errors.As(err, &t)
}

// webhook POSTs the rendered JSON body.
//
// Headers: Content-Type: application/json, User-Agent: vigil/<version>, X-Vigil-Decision (the
// decision id, for the receiver to deduplicate), X-Vigil-Operation, X-Vigil-Timestamp (Unix
// seconds) and, with a secret, the signature header (default X-Vigil-Signature):
// "sha256=" + hex(HMAC-SHA256(secret, timestamp + "." + body)).
type webhook struct {
	client    *http.Client
	headers   map[string]string
	secret    []byte
	sigHeader string
	userAgent string
	now       func() time.Time
}

func newWebhook(c *ActionConfig, version string, now func() time.Time) *webhook {
	h := c.SignatureHeader
	if h == "" {
		h = defaultSignature
	}
	return &webhook{
		client: &http.Client{
			// Redirects are not followed: a 3xx turning a POST into a GET elsewhere is a failure.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
			Transport: &http.Transport{
				Proxy:               http.ProxyFromEnvironment,
				DialContext:         (&net.Dialer{Timeout: 10 * time.Second}).DialContext,
				MaxIdleConnsPerHost: 4,
				IdleConnTimeout:     90 * time.Second,
				TLSHandshakeTimeout: 10 * time.Second,
			},
		},
		headers:   c.Headers,
		secret:    []byte(c.Secret),
		sigHeader: h,
		userAgent: "vigil/" + version,
		now:       now,
	}
}

// Sign computes the signature header value a receiver checks.
func Sign(secret []byte, timestamp string, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(timestamp))
	m.Write([]byte("."))
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

func (w *webhook) send(ctx context.Context, j *job) (string, error) {
	body := []byte(j.req.Body)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, j.req.URL, bytes.NewReader(body))
	if err != nil {
		return "", err
	}
	for k, v := range w.headers {
		req.Header.Set(k, v)
	}
	ts := strconv.FormatInt(w.now().Unix(), 10)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", w.userAgent)
	req.Header.Set("X-Vigil-Decision", j.d.ID)
	req.Header.Set("X-Vigil-Operation", j.d.Operation)
	req.Header.Set("X-Vigil-Timestamp", ts)
	if len(w.secret) > 0 {
		req.Header.Set(w.sigHeader, Sign(w.secret, ts, body))
	}
	resp, err := w.client.Do(req)
	if err != nil {
		return "", transient(err) // connection refused, timeout, reset: worth another try
	}
	excerpt, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	result := "HTTP " + strconv.Itoa(resp.StatusCode)
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		return result, nil
	case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusRequestTimeout || resp.StatusCode >= 500:
		return result, transient(fmt.Errorf("%s: %s", result, strings.TrimSpace(string(excerpt))))
	default:
		return result, fmt.Errorf("%s: %s", result, strings.TrimSpace(string(excerpt)))
	}
}

func (w *webhook) close() { w.client.CloseIdleConnections() }

// kafkaAction produces the rendered body to a topic, keyed by the rendered key, through the
// agent's Kafka connection settings. The producer is created on first use.
type kafkaAction struct {
	topic string
	conf  func() (stream.KafkaConfig, error)
	mu    sync.Mutex
	w     *kafka.Writer
}

func (k *kafkaAction) writer() (*kafka.Writer, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.w != nil {
		return k.w, nil
	}
	if k.conf == nil {
		return nil, errors.New("no Kafka configuration")
	}
	kc, err := k.conf()
	if err != nil {
		return nil, err
	}
	k.w = newKafkaWriter(kc, k.topic)
	return k.w, nil
}

func newKafkaWriter(kc stream.KafkaConfig, topic string) *kafka.Writer {
	return &kafka.Writer{
		Addr:         kafka.TCP(kc.Brokers...),
		Topic:        topic,
		Balancer:     &kafka.Hash{},
		BatchTimeout: 2 * time.Millisecond,
		RequiredAcks: kafka.RequireAll,
		MaxAttempts:  1, // retries are the executor's, with backoff and audit records
		Transport:    kc.Transport(),
	}
}

func (k *kafkaAction) send(ctx context.Context, j *job) (string, error) {
	w, err := k.writer()
	if err != nil {
		return "", err
	}
	err = w.WriteMessages(ctx, kafka.Message{
		Key:   []byte(j.req.Key),
		Value: []byte(j.req.Body),
		Headers: []kafka.Header{
			{Key: "vigil-decision", Value: []byte(j.d.ID)},
			{Key: "vigil-operation", Value: []byte(j.d.Operation)},
		},
	})
	if err != nil {
		return "", transient(err)
	}
	return "produced to " + k.topic, nil
}

func (k *kafkaAction) close() {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.w != nil {
		k.w.Close()
		k.w = nil
	}
}

// execAction runs a program directly (never through a shell) with the rendered argv, the body on
// standard input and VIGIL_* variables describing the decision. Exit status 0 is success, 75
// (EX_TEMPFAIL) and timeouts are retried, anything else fails.
//
// The program does not inherit the agent's environment (which may hold broker passwords and the
// approval token): only PATH, HOME, LANG, LC_ALL, TZ, TMPDIR and the variables named in env.
type execAction struct {
	env []string
}

var baseEnv = []string{"PATH", "HOME", "LANG", "LC_ALL", "TZ", "TMPDIR"}

// ExitTempFail is the exit status an exec action uses to ask for a retry.
const ExitTempFail = 75

func (x execAction) send(ctx context.Context, j *job) (string, error) {
	argv := j.req.Argv
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Stdin = strings.NewReader(j.req.Body)
	cmd.Env = []string{}
	for _, name := range append(baseEnv, x.env...) {
		if v, ok := os.LookupEnv(name); ok {
			cmd.Env = append(cmd.Env, name+"="+v)
		}
	}
	cmd.Env = append(cmd.Env,
		"VIGIL_DECISION="+j.d.ID, "VIGIL_ACTION="+j.d.Action, "VIGIL_OPERATION="+j.d.Operation,
		"VIGIL_TARGET="+j.d.Target, "VIGIL_TARGET_TYPE="+j.d.TargetType, "VIGIL_ALERT_ID="+j.d.AlertID,
		"VIGIL_MODE="+j.d.Mode, "VIGIL_PLAYBOOK="+j.d.Playbook)
	var out limitedBuffer
	out.limit = 1024
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.WaitDelay = 2 * time.Second
	err := cmd.Run()
	text := strings.TrimSpace(out.String())
	if ctx.Err() != nil {
		return "killed", transient(fmt.Errorf("timed out: %v", ctx.Err()))
	}
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			code := ee.ExitCode()
			err = fmt.Errorf("exit status %d: %s", code, text)
			if code == ExitTempFail {
				return "exit " + strconv.Itoa(code), transient(err)
			}
			return "exit " + strconv.Itoa(code), err
		}
		return "", err // could not start: permanent
	}
	if text != "" {
		return "exit 0: " + text, nil
	}
	return "exit 0", nil
}

func (execAction) close() {}

// limitedBuffer keeps the first limit bytes written.
type limitedBuffer struct {
	mu    sync.Mutex
	b     bytes.Buffer
	limit int
}

func (l *limitedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if room := l.limit - l.b.Len(); room > 0 {
		l.b.Write(p[:min(room, len(p))])
	}
	return len(p), nil
}

func (l *limitedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
