package stream

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"

	"github.com/vigil-detect/vigil/alert"
	"github.com/vigil-detect/vigil/alertfmt"
)

// LineSource reads NDJSON: one event per line. Record.Offset is the 1-based line number. Blank
// lines are skipped; lines over maxLine bytes are returned truncated to the limit (so the
// pipeline rejects them as too large and counts them) rather than stopping the read.
type LineSource struct {
	r       *bufio.Reader
	line    int64
	maxLine int
	closer  io.Closer
}

// NewLineSource reads from r; maxLine <= 0 means 1 MiB.
func NewLineSource(r io.Reader, maxLine int) *LineSource {
	if maxLine <= 0 {
		maxLine = 1 << 20
	}
	s := &LineSource{r: bufio.NewReaderSize(r, 256<<10), maxLine: maxLine}
	if c, ok := r.(io.Closer); ok {
		s.closer = c
	}
	return s
}

// Fetch reads up to max lines. Each Record.Value is a fresh slice the caller may keep.
func (s *LineSource) Fetch(ctx context.Context, dst []Record, max int) ([]Record, error) {
	start := len(dst)
	for len(dst)-start < max {
		if err := ctx.Err(); err != nil {
			return dst, err
		}
		line, err := s.readLine()
		if len(line) > 0 || (err == nil) {
			s.line++
			if t := bytes.TrimSpace(line); len(t) > 0 {
				dst = append(dst, Record{Value: t, Offset: s.line, HighWater: -1})
			}
		}
		if err != nil {
			if errors.Is(err, io.EOF) && len(dst) > start {
				return dst, nil
			}
			return dst, err
		}
	}
	return dst, nil
}

// readLine returns the next line without its newline, cut to maxLine+1 bytes (the rest of an
// overlong line is discarded).
func (s *LineSource) readLine() ([]byte, error) {
	var buf []byte
	for {
		frag, err := s.r.ReadSlice('\n')
		if len(buf)+len(frag) <= s.maxLine+1 {
			buf = append(buf, frag...)
		} else if len(buf) <= s.maxLine {
			buf = append(buf, frag[:s.maxLine+1-len(buf)]...)
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		buf = bytes.TrimSuffix(buf, []byte("\n"))
		buf = bytes.TrimSuffix(buf, []byte("\r"))
		if err == nil && buf == nil {
			buf = []byte{}
		}
		return buf, err
	}
}

// Done is a no-op: a file has no committed position.
func (s *LineSource) Done([]Record) {}

// Commit is a no-op.
func (s *LineSource) Commit(context.Context) error { return nil }

// Close closes the underlying reader when it is closable.
func (s *LineSource) Close() error {
	if s.closer != nil {
		return s.closer.Close()
	}
	return nil
}

// WriterSink writes alerts as NDJSON, one object per line, in a format (Vigil's by default).
type WriterSink struct {
	mu  sync.Mutex
	w   *bufio.Writer
	enc alertfmt.Encoder
	buf []byte
	c   io.Closer
}

// NewWriterSink writes Vigil-format alerts to w (closed on Close when closeIt and w is an
// io.Closer).
func NewWriterSink(w io.Writer, closeIt bool) *WriterSink {
	return NewFormatWriterSink(w, closeIt, alertfmt.Vigil{})
}

// NewFormatWriterSink writes alerts to w in enc's format.
func NewFormatWriterSink(w io.Writer, closeIt bool, enc alertfmt.Encoder) *WriterSink {
	s := &WriterSink{w: bufio.NewWriter(w), enc: enc}
	if c, ok := w.(io.Closer); ok && closeIt {
		s.c = c
	}
	return s
}

// Write encodes and flushes the alerts.
func (s *WriterSink) Write(_ context.Context, alerts []*alert.Alert) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, a := range alerts {
		var err error
		if s.buf, err = s.enc.Append(s.buf[:0], a); err != nil {
			return fmt.Errorf("write alert: %w", err)
		}
		s.buf = append(s.buf, '\n')
		if _, err := s.w.Write(s.buf); err != nil {
			return fmt.Errorf("write alert: %w", err)
		}
	}
	return s.w.Flush()
}

// Close flushes and closes.
func (s *WriterSink) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	err := s.w.Flush()
	if s.c != nil {
		if cerr := s.c.Close(); err == nil {
			err = cerr
		}
	}
	return err
}

// LogDeadLetter reports rejected records on a logger (for files and stdin: "line N: reason").
type LogDeadLetter struct {
	Log   *slog.Logger
	Label string // e.g. the file name
}

// Reject logs each record.
func (d *LogDeadLetter) Reject(_ context.Context, recs []Rejected) error {
	for _, r := range recs {
		if r.Record.Topic != "" {
			d.Log.Warn("rejected record", "evaluated", r.Evaluated, "topic", r.Record.Topic, "partition", r.Record.Partition,
				"offset", r.Record.Offset, "reason", r.Reason, "error", r.Error)
			continue
		}
		d.Log.Warn("rejected line", "input", d.Label, "line", r.Record.Offset, "evaluated", r.Evaluated, "reason", r.Reason, "error", r.Error)
	}
	return nil
}

// Close is a no-op.
func (d *LogDeadLetter) Close() error { return nil }
