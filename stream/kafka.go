package stream

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/sasl"

	"github.com/vigil-detect/vigil/alert"
	"github.com/vigil-detect/vigil/alertfmt"
)

// KafkaConfig is how Vigil connects to Kafka.
type KafkaConfig struct {
	Brokers           []string
	TLS               *tls.Config    // nil: plaintext
	SASL              sasl.Mechanism // nil: no authentication
	ClientID          string
	Group             string
	Topics            []string
	StartOffset       string        // "earliest" (default) or "latest": where a new group starts
	StartTime         time.Time     // non-zero: a new group starts at the first record at or after it
	MaxBytes          int           // most bytes one fetch asks a partition for (default 1 MiB)
	MaxWait           time.Duration // longest a fetch waits for records (default 1s)
	HeartbeatInterval time.Duration
	SessionTimeout    time.Duration
	RebalanceTimeout  time.Duration
	Logger            *slog.Logger
}

func (c *KafkaConfig) dialer() *kafka.Dialer {
	return &kafka.Dialer{
		ClientID:      c.clientID(),
		Timeout:       10 * time.Second,
		DialFunc:      dialReadAhead,
		TLS:           c.TLS,
		SASLMechanism: c.SASL,
	}
}

// readAheadBytes is how much a consumer connection reads from the socket at once.
const readAheadBytes = 64 << 10

// dialReadAhead dials a broker for the consumer with a read buffer of readAheadBytes: kafka-go
// reads a fetch response through a 4 KiB buffer, one system call for every two or three
// records of the sizes events have (a tenth of the CPU of an end-to-end run went to them).
func dialReadAhead(ctx context.Context, network, address string) (net.Conn, error) {
	conn, err := (&net.Dialer{}).DialContext(ctx, network, address)
	if err != nil {
		return nil, err
	}
	return &readAheadConn{Conn: conn, r: bufio.NewReaderSize(conn, readAheadBytes)}, nil
}

type readAheadConn struct {
	net.Conn
	r *bufio.Reader
}

func (c *readAheadConn) Read(p []byte) (int, error) { return c.r.Read(p) }

func (c *KafkaConfig) clientID() string {
	if c.ClientID != "" {
		return c.ClientID
	}
	return "vigil"
}

// Transport is the producer-side connection settings.
func (c *KafkaConfig) Transport() *kafka.Transport {
	return &kafka.Transport{
		ClientID:    c.clientID(),
		DialTimeout: 10 * time.Second,
		TLS:         c.TLS,
		SASL:        c.SASL,
	}
}

// KafkaSource consumes topics as a member of a consumer group. Offsets are committed only for
// records marked Done, in batches (at-least-once).
type KafkaSource struct {
	reader  *kafka.Reader
	log     *slog.Logger
	msgs    chan kafka.Message
	errs    chan error
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	mu      sync.Mutex
	pending map[topicPartition]kafka.Message // last record marked done per partition
	lastErr error
	healthy func(bool)
	cfg     KafkaConfig
}

type topicPartition struct {
	topic     string
	partition int
}

// NewKafkaSource joins the group and starts fetching in the background. healthy (may be nil) is
// told when fetching fails and when it recovers, for readiness.
func NewKafkaSource(cfg KafkaConfig, healthy func(bool)) (*KafkaSource, error) {
	if len(cfg.Brokers) == 0 {
		return nil, errors.New("kafka: no brokers configured")
	}
	if len(cfg.Topics) == 0 {
		return nil, errors.New("kafka: no topics configured")
	}
	if cfg.Group == "" {
		return nil, errors.New("kafka: no consumer group configured")
	}
	start := kafka.FirstOffset
	switch cfg.StartOffset {
	case "", "earliest":
	case "latest":
		start = kafka.LastOffset
	default:
		return nil, fmt.Errorf("kafka: start offset %q: want earliest or latest", cfg.StartOffset)
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	if !cfg.StartTime.IsZero() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		err := seedOffsetsByTime(ctx, cfg, log)
		cancel()
		if err != nil {
			return nil, err
		}
	}
	rc := kafka.ReaderConfig{
		Brokers:           cfg.Brokers,
		GroupID:           cfg.Group,
		GroupTopics:       cfg.Topics,
		Dialer:            cfg.dialer(),
		MinBytes:          1, // a fetch returns as soon as any record is there
		MaxBytes:          orInt(cfg.MaxBytes, 1<<20),
		MaxWait:           orDur(cfg.MaxWait, time.Second),
		HeartbeatInterval: orDur(cfg.HeartbeatInterval, 3*time.Second),
		SessionTimeout:    orDur(cfg.SessionTimeout, 30*time.Second),
		RebalanceTimeout:  orDur(cfg.RebalanceTimeout, 30*time.Second),
		CommitInterval:    0, // synchronous commits, issued by Commit only
		StartOffset:       start,
		QueueCapacity:     1024,
		ErrorLogger: kafka.LoggerFunc(func(msg string, args ...any) {
			log.Debug("kafka reader: " + fmt.Sprintf(msg, args...))
		}),
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &KafkaSource{
		cfg:     cfg,
		reader:  kafka.NewReader(rc),
		log:     log,
		msgs:    make(chan kafka.Message, 4096),
		errs:    make(chan error, 1),
		cancel:  cancel,
		pending: map[topicPartition]kafka.Message{},
		healthy: healthy,
	}
	s.wg.Add(1)
	go s.fetchLoop(ctx)
	return s, nil
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

// fetchLoop feeds msgs; kafka-go reconnects by itself, so errors are reported and retried with
// backoff rather than ending the source.
func (s *KafkaSource) fetchLoop(ctx context.Context) {
	defer s.wg.Done()
	defer close(s.msgs)
	backoff := 100 * time.Millisecond
	failing := false
	for {
		m, err := s.reader.FetchMessage(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			if !failing {
				s.log.Warn("kafka fetch failed; retrying", "error", err)
				failing = true
				if s.healthy != nil {
					s.healthy(false)
				}
			}
			select {
			case <-ctx.Done():
				return
			case <-time.After(backoff):
			}
			backoff = min(2*backoff, 10*time.Second)
			continue
		}
		if failing {
			s.log.Info("kafka fetch recovered")
			failing = false
			backoff = 100 * time.Millisecond
			if s.healthy != nil {
				s.healthy(true)
			}
		}
		select {
		case s.msgs <- m:
		case <-ctx.Done():
			return
		}
	}
}

// Fetch waits for one record, then takes whatever else is already buffered, up to max.
func (s *KafkaSource) Fetch(ctx context.Context, dst []Record, max int) ([]Record, error) {
	select {
	case m, ok := <-s.msgs:
		if !ok {
			return dst, context.Canceled
		}
		dst = append(dst, fromKafka(m))
	case <-ctx.Done():
		return dst, ctx.Err()
	}
	for n := 1; n < max; n++ {
		select {
		case m, ok := <-s.msgs:
			if !ok {
				return dst, nil
			}
			dst = append(dst, fromKafka(m))
		default:
			return dst, nil
		}
	}
	return dst, nil
}

func fromKafka(m kafka.Message) Record {
	r := Record{Value: m.Value, Key: m.Key, Topic: m.Topic, Partition: m.Partition, Offset: m.Offset,
		Time: m.Time, HighWater: m.HighWaterMark}
	if len(m.Headers) > 0 {
		r.Headers = make([]Header, len(m.Headers))
		for i, h := range m.Headers {
			r.Headers[i] = Header{Key: h.Key, Value: h.Value}
		}
	}
	return r
}

// Done records the newest processed position per partition.
func (s *KafkaSource) Done(recs []Record) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range recs {
		tp := topicPartition{r.Topic, r.Partition}
		if p, ok := s.pending[tp]; !ok || r.Offset > p.Offset {
			s.pending[tp] = kafka.Message{Topic: r.Topic, Partition: r.Partition, Offset: r.Offset}
		}
	}
}

// Commit commits the positions marked done. A failed commit (say, after a rebalance took the
// partition away) is returned; the records will be delivered again, which at-least-once allows.
func (s *KafkaSource) Commit(ctx context.Context) error {
	s.mu.Lock()
	if len(s.pending) == 0 {
		s.mu.Unlock()
		return nil
	}
	msgs := make([]kafka.Message, 0, len(s.pending))
	for _, m := range s.pending {
		msgs = append(msgs, m)
	}
	clear(s.pending)
	s.mu.Unlock()
	return s.reader.CommitMessages(ctx, msgs...)
}

// Close stops fetching and leaves the group. Commit what is done first.
func (s *KafkaSource) Close() error {
	s.cancel()
	err := s.reader.Close()
	for range s.msgs { // let fetchLoop finish
	}
	s.wg.Wait()
	return err
}

// KafkaSink produces alerts to a topic, keyed by alert id, waiting for acknowledgement. A
// detection alert's record carries the headers of the record it came from, then vigil-kind,
// vigil-rule-id and vigil-format.
type KafkaSink struct {
	w   *kafka.Writer
	enc alertfmt.Encoder
	max int
}

// WriterConfig tunes a producer.
type WriterConfig struct {
	Topic       string
	Compression string           // none, gzip, snappy, lz4, zstd
	Encoder     alertfmt.Encoder // alert format; nil is Vigil's
	// MaxMessageBytes bounds one produced record (default DefaultMaxMessageBytes, under Kafka's
	// default message.max.bytes). Larger alerts are written with their event replaced by a
	// marker; larger dead-letter records are cut. Without it such a record would fail forever
	// and, since writes are retried until they succeed, stop the pipeline.
	MaxMessageBytes int
}

// DefaultMaxMessageBytes is the default WriterConfig.MaxMessageBytes.
const DefaultMaxMessageBytes = 1_000_000

// NewKafkaSink writes alerts to cfg.Topic.
func NewKafkaSink(kc KafkaConfig, wc WriterConfig) (*KafkaSink, error) {
	w, err := newWriter(kc, wc)
	if err != nil {
		return nil, err
	}
	enc := wc.Encoder
	if enc == nil {
		enc = alertfmt.Vigil{}
	}
	return &KafkaSink{w: w, enc: enc, max: wc.maxMessageBytes()}, nil
}

func (wc WriterConfig) maxMessageBytes() int {
	if wc.MaxMessageBytes > 0 {
		return wc.MaxMessageBytes
	}
	return DefaultMaxMessageBytes
}

func newWriter(kc KafkaConfig, wc WriterConfig) (*kafka.Writer, error) {
	if wc.Topic == "" {
		return nil, errors.New("kafka: no output topic configured")
	}
	w := &kafka.Writer{
		Addr:         kafka.TCP(kc.Brokers...),
		Topic:        wc.Topic,
		Balancer:     &kafka.Hash{},
		BatchSize:    1000,
		BatchTimeout: 2 * time.Millisecond,
		RequiredAcks: kafka.RequireAll,
		MaxAttempts:  10,
		Transport:    kc.Transport(),
		// Room for one record of the largest allowed size with its key and headers, but no more
		// than a broker with default settings accepts in one record batch (message.max.bytes,
		// 1,048,588): a batch over it is refused, and a refused write is retried forever.
		BatchBytes: int64(wc.maxMessageBytes() + 32<<10),
	}
	switch wc.Compression {
	case "", "none":
	case "gzip":
		w.Compression = kafka.Gzip
	case "snappy":
		w.Compression = kafka.Snappy
	case "lz4":
		w.Compression = kafka.Lz4
	case "zstd":
		w.Compression = kafka.Zstd
	default:
		return nil, fmt.Errorf("kafka: unknown compression %q", wc.Compression)
	}
	return w, nil
}

// Write produces the alerts and returns once the broker acknowledged all of them.
func (k *KafkaSink) Write(ctx context.Context, alerts []*alert.Alert) error {
	if len(alerts) == 0 {
		return nil
	}
	msgs := make([]kafka.Message, len(alerts))
	format := []byte(k.enc.Name())
	// One buffer for the batch's values, keys and header values, sized for the events they
	// carry, and one array for its headers: growing each alert's own buffer from nothing cost
	// more than encoding it, and the small pieces were four allocations per alert.
	size, headers := 0, 0
	for _, a := range alerts {
		size += len(a.Event) + 512 + len(a.ID) + len(a.Kind) + len(a.Rule.ID)
		headers += len(a.Headers) + 4
	}
	buf := make([]byte, 0, size)
	hs := make([]kafka.Header, 0, headers)
	piece := func(s string) []byte {
		start := len(buf)
		buf = append(buf, s...)
		return buf[start:len(buf):len(buf)]
	}
	for i, a := range alerts {
		start := len(buf)
		var err error
		if buf, err = k.enc.Append(buf, a); err != nil {
			return err
		}
		v := buf[start:len(buf):len(buf)]
		first := len(hs)
		for _, x := range a.Headers {
			hs = append(hs, kafka.Header{Key: x.Key, Value: x.Value})
		}
		hs = append(hs, kafka.Header{Key: "vigil-kind", Value: piece(a.Kind)},
			kafka.Header{Key: "vigil-rule-id", Value: piece(a.Rule.ID)},
			kafka.Header{Key: "vigil-format", Value: format})
		h := hs[first:len(hs):len(hs)]
		if len(v) > k.max {
			// Too large for the broker: retrying would stop the pipeline for good. The event
			// is replaced by a marker; the alert's source still locates the record.
			c := *a
			c.Event = json.RawMessage(`{"vigil_truncated":true,"alert_bytes":` + strconv.Itoa(len(v)) + `}`)
			if v, err = k.enc.Append(nil, &c); err != nil {
				return err
			}
			h = append(h, kafka.Header{Key: "vigil-event-truncated", Value: []byte("true")})
		}
		msgs[i] = kafka.Message{Key: piece(a.ID), Value: v, Time: a.Time, Headers: h}
	}
	return k.w.WriteMessages(ctx, msgs...)
}

// Close flushes and closes the producer.
func (k *KafkaSink) Close() error { return k.w.Close() }

// KafkaDeadLetter produces rejected records, unchanged, to a topic with headers saying why and
// where they came from.
type KafkaDeadLetter struct {
	w   *kafka.Writer
	max int
}

// NewKafkaDeadLetter writes to topic.
func NewKafkaDeadLetter(kc KafkaConfig, topic string) (*KafkaDeadLetter, error) {
	return NewKafkaDeadLetterWith(kc, WriterConfig{Topic: topic})
}

// NewKafkaDeadLetterWith writes to wc.Topic. Records over wc.MaxMessageBytes (less room for
// headers) are cut, with a vigil-truncated-from header giving the original size: the original
// stays in the source topic at the offset the headers name.
func NewKafkaDeadLetterWith(kc KafkaConfig, wc WriterConfig) (*KafkaDeadLetter, error) {
	w, err := newWriter(kc, wc)
	if err != nil {
		return nil, err
	}
	return &KafkaDeadLetter{w: w, max: wc.maxMessageBytes()}, nil
}

// Reject produces the records and waits for acknowledgement.
func (d *KafkaDeadLetter) Reject(ctx context.Context, recs []Rejected) error {
	msgs := make([]kafka.Message, len(recs))
	for i, r := range recs {
		h := make([]kafka.Header, 0, len(r.Record.Headers)+7)
		size := len(r.Record.Key) + len(r.Reason) + len(r.Error) + 512
		for _, x := range r.Record.Headers {
			h = append(h, kafka.Header{Key: x.Key, Value: x.Value})
			size += len(x.Key) + len(x.Value)
		}
		value := r.Record.Value
		if size+len(value) > d.max {
			value = value[:max(d.max-size, 0)]
			h = append(h, kafka.Header{Key: "vigil-truncated-from", Value: []byte(strconv.Itoa(len(r.Record.Value)))})
		}
		if r.Evaluated {
			h = append(h, kafka.Header{Key: "vigil-evaluated", Value: []byte("true")})
		}
		h = append(h,
			kafka.Header{Key: "vigil-error-reason", Value: []byte(r.Reason)},
			kafka.Header{Key: "vigil-error", Value: []byte(r.Error)},
			kafka.Header{Key: "vigil-source-topic", Value: []byte(r.Record.Topic)},
			kafka.Header{Key: "vigil-source-partition", Value: []byte(strconv.Itoa(r.Record.Partition))},
			kafka.Header{Key: "vigil-source-offset", Value: []byte(strconv.FormatInt(r.Record.Offset, 10))},
		)
		msgs[i] = kafka.Message{Key: r.Record.Key, Value: value, Headers: h, Time: r.Record.Time}
	}
	return d.w.WriteMessages(ctx, msgs...)
}

// Close flushes and closes the producer.
func (d *KafkaDeadLetter) Close() error { return d.w.Close() }
