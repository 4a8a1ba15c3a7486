// Package ingest turns records that are not JSON objects (syslog lines, logfmt, CEF, plain text)
// into JSON objects the detection engine reads, and extracts fields with regular expressions.
//
// Each topic declares its format (config.Input). JSON records of topics without extraction are
// not touched at all: the pipeline asks the Router and skips conversion when it answers nil, so
// the JSON path stays allocation-free.
package ingest

import (
	"errors"
	"fmt"
	"regexp"
	"time"
	"unicode/utf8"

	"github.com/vigil-detect/vigil/config"
	"github.com/vigil-detect/vigil/event"
)

// Error is a record that does not parse in its input's format. Reason is the stable label of
// metrics and dead-letter headers: invalid_syslog, invalid_logfmt, invalid_cef, invalid_utf8, or
// the JSON decoder's reasons for JSON records with extraction.
type Error struct {
	Reason string
	Msg    string
}

func (e *Error) Error() string { return e.Reason + ": " + e.Msg }

func fail(reason, format string, args ...any) error {
	return &Error{Reason: reason, Msg: fmt.Sprintf(format, args...)}
}

// Input converts the records of one topic.
type Input struct {
	Topic   string
	Format  string
	loc     *time.Location
	extract []extractor
}

type extractor struct {
	field string
	re    *regexp.Regexp
	names []string // group names by group index ("" for unnamed)
}

// New compiles an input's configuration.
func New(c config.Input) (*Input, error) {
	in := &Input{Topic: c.Topic, Format: c.Format, loc: time.UTC}
	if in.Format == "" {
		in.Format = "json"
	}
	switch in.Format {
	case "json", "syslog", "logfmt", "cef", "text":
	default:
		return nil, fmt.Errorf("input %s: unknown format %q", c.Topic, c.Format)
	}
	if c.Timezone != "" {
		loc, err := time.LoadLocation(c.Timezone)
		if err != nil {
			return nil, fmt.Errorf("input %s: timezone: %w", c.Topic, err)
		}
		in.loc = loc
	}
	for i, x := range c.Extract {
		re, err := regexp.Compile(x.Pattern)
		if err != nil {
			return nil, fmt.Errorf("input %s: extract[%d]: %w", c.Topic, i, err)
		}
		if x.Field == "" {
			return nil, fmt.Errorf("input %s: extract[%d]: no field", c.Topic, i)
		}
		in.extract = append(in.extract, extractor{field: x.Field, re: re, names: re.SubexpNames()})
	}
	return in, nil
}

// Passthrough reports whether records go to the engine unchanged (JSON, nothing to extract).
func (in *Input) Passthrough() bool { return in.Format == "json" && len(in.extract) == 0 }

// Router finds a topic's input.
type Router struct {
	byTopic map[string]*Input
}

// NewRouter compiles the inputs. It returns nil when every input is a passthrough: then nothing
// is ever converted.
func NewRouter(inputs []config.Input) (*Router, error) {
	r := &Router{byTopic: map[string]*Input{}}
	var errs []error
	for _, c := range inputs {
		in, err := New(c)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if !in.Passthrough() {
			r.byTopic[c.Topic] = in
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	if len(r.byTopic) == 0 {
		return nil, nil
	}
	return r, nil
}

// For returns the input converting topic's records, or nil when they are passed through.
func (r *Router) For(topic string) *Input {
	if r == nil {
		return nil
	}
	return r.byTopic[topic]
}

// Converter converts records of one Input; it reuses its buffers, so give each goroutine its own.
type Converter struct {
	in     *Input
	p      parser
	out    []byte
	schema *event.Schema // JSON records with extraction: the fields extraction reads
	ev     event.Event
	idx    []int // per extractor, its field's index in schema
}

// NewConverter returns a converter for in.
func (in *Input) NewConverter() *Converter {
	c := &Converter{in: in}
	if in.Format == "json" && len(in.extract) > 0 {
		c.schema = event.NewSchema()
		for _, x := range in.extract {
			c.idx = append(c.idx, c.schema.Add(x.field))
		}
	}
	return c
}

// Convert returns raw as one JSON object with the extracted fields added. recTime (the Kafka
// record time; may be zero) supplies the year of RFC 3164 timestamps. The result stays valid
// until the next call.
func (c *Converter) Convert(raw []byte, recTime time.Time, lim event.Limits) ([]byte, error) {
	in := c.in
	if in.Format == "json" {
		return c.convertJSON(raw, lim)
	}
	if !utf8.Valid(raw) {
		return nil, fail("invalid_utf8", "record is not valid UTF-8")
	}
	c.p.reset(in.loc, recTime)
	var err error
	switch in.Format {
	case "syslog":
		err = c.p.syslog(raw)
	case "logfmt":
		err = c.p.logfmt(raw)
	case "cef":
		err = c.p.cef(raw)
	case "text":
		c.p.add("message", string(trimEOL(raw)))
	}
	if err != nil {
		return nil, err
	}
	for i := range in.extract {
		x := &in.extract[i]
		if v, ok := c.p.get(x.field); ok {
			c.p.matchInto(x, v)
		}
	}
	c.out = c.p.appendJSON(c.out[:0])
	return c.out, nil
}

// convertJSON adds extracted fields to a JSON object by rewriting its closing brace.
func (c *Converter) convertJSON(raw []byte, lim event.Limits) ([]byte, error) {
	if err := c.schema.Decode(raw, &c.ev, lim); err != nil {
		return nil, err
	}
	c.p.reset(time.UTC, time.Time{})
	for i := range c.in.extract {
		x := &c.in.extract[i]
		v, ok := c.p.get(x.field) // a field an earlier extraction added
		if !ok {
			if first := c.ev.First(c.idx[i]); first.Kind == event.String || first.Kind == event.Number {
				v, ok = string(first.Raw), true
			}
		}
		if ok {
			c.p.matchInto(x, v)
		}
	}
	if len(c.p.fields) == 0 {
		return raw, nil
	}
	end := len(raw) - 1
	for end >= 0 && raw[end] != '}' {
		end--
	}
	empty := true
	for i := end - 1; i >= 0; i-- {
		if !isSpace(raw[i]) {
			empty = raw[i] == '{'
			break
		}
	}
	c.out = append(c.out[:0], raw[:end]...)
	for i := range c.p.fields {
		if !empty || i > 0 {
			c.out = append(c.out, ',')
		}
		c.out = c.p.fields[i].appendMember(c.out)
	}
	c.out = append(c.out, '}')
	return c.out, nil
}

func isSpace(b byte) bool { return b == ' ' || b == '\t' || b == '\n' || b == '\r' }

func trimEOL(b []byte) []byte {
	for len(b) > 0 && (b[len(b)-1] == '\n' || b[len(b)-1] == '\r') {
		b = b[:len(b)-1]
	}
	return b
}
