package stream

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/vigil-detect/vigil/alert"
	"github.com/vigil-detect/vigil/alertfmt"
)

// WebhookConfig configures a WebhookSink.
type WebhookConfig struct {
	URL     string
	Headers map[string]string
	Body    string        // ndjson (default): one request per batch, one alert a line; array; single
	Timeout time.Duration // per request (default 10s)
	Encoder alertfmt.Encoder
	Client  *http.Client // nil: a client with Timeout
}

// WebhookSink POSTs alerts to an HTTP endpoint. A batch is written when every request got a 2xx
// answer; otherwise Write fails and the pipeline retries it, so the endpoint may see an alert
// more than once and should deduplicate by its id.
type WebhookSink struct {
	cfg    WebhookConfig
	client *http.Client
}

// NewWebhookSink checks the configuration.
func NewWebhookSink(c WebhookConfig) (*WebhookSink, error) {
	if c.URL == "" {
		return nil, fmt.Errorf("webhook: no url")
	}
	switch c.Body {
	case "":
		c.Body = "ndjson"
	case "ndjson", "array", "single":
	default:
		return nil, fmt.Errorf("webhook body %q: want ndjson, array or single", c.Body)
	}
	if c.Timeout <= 0 {
		c.Timeout = 10 * time.Second
	}
	if c.Encoder == nil {
		c.Encoder = alertfmt.Vigil{}
	}
	client := c.Client
	if client == nil {
		client = &http.Client{Timeout: c.Timeout}
	}
	return &WebhookSink{cfg: c, client: client}, nil
}

// Write sends the alerts.
func (s *WebhookSink) Write(ctx context.Context, alerts []*alert.Alert) error {
	if len(alerts) == 0 {
		return nil
	}
	enc := s.cfg.Encoder
	switch s.cfg.Body {
	case "single":
		for _, a := range alerts {
			b, err := enc.Append(nil, a)
			if err != nil {
				return err
			}
			if err := s.post(ctx, b, "application/json"); err != nil {
				return err
			}
		}
		return nil
	case "array":
		b := []byte{'['}
		for i, a := range alerts {
			if i > 0 {
				b = append(b, ',')
			}
			var err error
			if b, err = enc.Append(b, a); err != nil {
				return err
			}
		}
		return s.post(ctx, append(b, ']'), "application/json")
	}
	var b []byte
	for _, a := range alerts {
		var err error
		if b, err = enc.Append(b, a); err != nil {
			return err
		}
		b = append(b, '\n')
	}
	return s.post(ctx, b, "application/x-ndjson")
}

func (s *WebhookSink) post(ctx context.Context, body []byte, contentType string) error {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.cfg.URL, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("webhook: %w", err)
	}
	req.Header.Set("Content-Type", contentType)
	req.Header.Set("User-Agent", "vigil")
	for k, v := range s.cfg.Headers {
		req.Header.Set(k, v)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return fmt.Errorf("webhook: %w", err)
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("webhook %s: %s: %s", s.cfg.URL, resp.Status, bytes.TrimSpace(msg))
	}
	return nil
}

// Close releases idle connections.
func (s *WebhookSink) Close() error {
	s.client.CloseIdleConnections()
	return nil
}
