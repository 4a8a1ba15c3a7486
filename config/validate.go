package config

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"
)

// InputFormats are the record formats an input can declare.
var InputFormats = []string{"json", "syslog", "logfmt", "cef", "text"}

// AlertFormats are the formats alerts can be written in.
var AlertFormats = []string{"vigil", "ecs", "ocsf"}

// SinkTypes are the kinds of alert destination in output.sinks.
var SinkTypes = []string{"kafka", "stdout", "file", "webhook"}

var compressions = []string{"", "none", "gzip", "snappy", "lz4", "zstd"}

// Problem is one invalid value, located by its key path.
type Problem struct {
	Key string
	Msg string
}

type problems []Problem

func (p *problems) add(key, format string, args ...any) {
	*p = append(*p, Problem{Key: key, Msg: fmt.Sprintf(format, args...)})
}

// Validate checks values the YAML types cannot. Each problem is reported on its own line as
// "file:line: key: problem".
func (c *Config) Validate() error {
	return c.report(c.Problems())
}

// CheckFiles reports configured files that cannot be read (TLS material, rule and routing
// paths) and output files whose directory does not exist.
func (c *Config) CheckFiles() error {
	var p problems
	readable := func(key, path string) {
		if path == "" {
			return
		}
		if _, err := os.Stat(path); err != nil {
			p.add(key, "%v", unwrapPath(err))
		}
	}
	for i, r := range c.Rules {
		if !strings.HasPrefix(r, "builtin:") {
			readable(fmt.Sprintf("rules[%d]", i), r)
		}
	}
	for i, l := range c.Logsources {
		readable(fmt.Sprintf("logsources[%d]", i), l)
	}
	for i, m := range c.FieldMappings {
		if !strings.HasPrefix(m, "builtin:") {
			readable(fmt.Sprintf("field_mappings[%d]", i), m)
		}
	}
	if c.Kafka.TLS.Enabled {
		readable("kafka.tls.ca_file", c.Kafka.TLS.CAFile)
		readable("kafka.tls.cert_file", c.Kafka.TLS.CertFile)
		readable("kafka.tls.key_file", c.Kafka.TLS.KeyFile)
	}
	dirOf := func(key, path string) {
		if path != "" {
			readable(key, filepath.Dir(path))
		}
	}
	dirOf("output.file", c.Output.File)
	for i, s := range c.Output.Sinks {
		if s.Type == "file" {
			dirOf(fmt.Sprintf("output.sinks[%d].path", i), s.Path)
		}
	}
	return c.report(p)
}

func unwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return fmt.Errorf("%s: %v", pe.Path, pe.Err)
	}
	return err
}

func (c *Config) report(p problems) error {
	if len(p) == 0 {
		return nil
	}
	lines := make([]string, len(p))
	for i, pr := range p {
		lines[i] = c.at(c.lineOf(pr.Key)) + pr.Key + ": " + pr.Msg
	}
	return errors.New(strings.Join(lines, "\n"))
}

// lineOf finds the line of a key, or of its closest enclosing key set in the file.
func (c *Config) lineOf(key string) int {
	for key != "" {
		if l, ok := c.lines[key]; ok {
			return l
		}
		i := strings.LastIndexAny(key, ".[")
		if i < 0 {
			break
		}
		key = key[:i]
	}
	return 0
}

// Problems lists every invalid value.
func (c *Config) Problems() []Problem {
	var p problems
	k := &c.Kafka
	if _, err := ParseStartOffset(k.StartOffset); err != nil {
		p.add("kafka.start_offset", "%v", err)
	}
	if !slices.Contains(compressions, k.Compression) {
		p.add("kafka.compression", "%q: want none, gzip, snappy, lz4 or zstd", k.Compression)
	}
	switch strings.ToLower(k.SASL.Mechanism) {
	case "":
		if k.SASL.Username != "" || k.SASL.Password != "" {
			p.add("kafka.sasl.mechanism", "username or password set but no mechanism: want plain, scram-sha-256 or scram-sha-512")
		}
	case "plain", "scram-sha-256", "scram-sha-512":
		if k.SASL.Username == "" {
			p.add("kafka.sasl.username", "required with mechanism %s", k.SASL.Mechanism)
		}
	default:
		p.add("kafka.sasl.mechanism", "%q: want plain, scram-sha-256 or scram-sha-512", k.SASL.Mechanism)
	}
	t := &k.TLS
	if !t.Enabled && (t.CAFile != "" || t.CertFile != "" || t.KeyFile != "" || t.ServerName != "" || t.InsecureSkipVerify) {
		p.add("kafka.tls.enabled", "TLS settings are given but enabled is false")
	}
	if (t.CertFile == "") != (t.KeyFile == "") {
		p.add("kafka.tls.cert_file", "a client certificate needs both cert_file and key_file")
	}
	if len(k.Brokers) == 0 {
		p.add("kafka.brokers", "at least one broker is required")
	}
	c.validateInputs(&p)
	c.validateOutput(&p)
	switch strings.ToLower(c.Log.Level) {
	case "", "debug", "info", "warn", "error":
	default:
		p.add("log.level", "%q: want debug, info, warn or error", c.Log.Level)
	}
	switch c.Log.Format {
	case "", "text", "json":
	default:
		p.add("log.format", "%q: want text or json", c.Log.Format)
	}
	pl := &c.Pipeline
	for key, v := range map[string]int{"pipeline.workers": pl.Workers, "pipeline.batch_size": pl.BatchSize,
		"pipeline.commit_every": pl.CommitEvery, "pipeline.max_event_bytes": pl.MaxEventBytes, "pipeline.max_depth": pl.MaxDepth} {
		if v < 0 {
			p.add(key, "%d: cannot be negative", v)
		}
	}
	if pl.CommitInterval < 0 {
		p.add("pipeline.commit_interval", "%s: cannot be negative", pl.CommitInterval)
	}
	rl := &c.RuleLimits
	for key, v := range map[string]int{"rule_limits.max_file_bytes": rl.MaxFileBytes, "rule_limits.max_regex_bytes": rl.MaxRegexBytes,
		"rule_limits.max_regex_program": rl.MaxRegexProgram, "rule_limits.max_value_variants": rl.MaxValueVariants,
		"rule_limits.max_condition_depth": rl.MaxConditionDepth, "kafka.max_message_bytes": c.Kafka.MaxMessageBytes,
		"kafka.fetch_max_bytes": c.Kafka.FetchMaxBytes} {
		if v < 0 {
			p.add(key, "%d: cannot be negative", v)
		}
	}
	for key, v := range map[string]time.Duration{"reload.interval": c.Reload.Interval, "kafka.heartbeat_interval": c.Kafka.HeartbeatInterval,
		"kafka.session_timeout": c.Kafka.SessionTimeout, "kafka.rebalance_timeout": c.Kafka.RebalanceTimeout,
		"kafka.fetch_max_wait": c.Kafka.FetchMaxWait} {
		if v < 0 {
			p.add(key, "%s: cannot be negative", v)
		}
	}
	slices.SortStableFunc(p, func(a, b Problem) int { return c.lineOf(a.Key) - c.lineOf(b.Key) })
	return p
}

// ParseStartOffset reads kafka.start_offset: "earliest" or "" (zero time, first=true), "latest",
// or an RFC 3339 time.
func ParseStartOffset(s string) (StartOffset, error) {
	switch s {
	case "", "earliest":
		return StartOffset{Earliest: true}, nil
	case "latest":
		return StartOffset{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return StartOffset{}, fmt.Errorf("%q: want earliest, latest or an RFC 3339 time such as 2026-01-02T15:04:05Z", s)
	}
	return StartOffset{At: t}, nil
}

// StartOffset is where a consumer group without committed offsets starts.
type StartOffset struct {
	Earliest bool
	At       time.Time // non-zero: the first record at or after this time
}

// fieldName is what extraction group names and field names may be: dotted identifiers.
var fieldName = regexp.MustCompile(`^[A-Za-z_@][A-Za-z0-9_@-]*(\.[A-Za-z_@][A-Za-z0-9_@-]*)*$`)

func (c *Config) validateInputs(p *problems) {
	seen := map[string]bool{}
	for i, in := range c.Inputs {
		key := fmt.Sprintf("inputs[%d]", i)
		switch {
		case in.Topic == "":
			p.add(key+".topic", "required")
		case seen[in.Topic]:
			p.add(key+".topic", "%q has two inputs", in.Topic)
		case len(c.Kafka.Topics) > 0 && !slices.Contains(c.Kafka.Topics, in.Topic):
			p.add(key+".topic", "%q is not in kafka.topics %v: add it there or drop kafka.topics to consume the inputs' topics", in.Topic, c.Kafka.Topics)
		}
		seen[in.Topic] = true
		if in.Format != "" && !slices.Contains(InputFormats, in.Format) {
			p.add(key+".format", "%q: want one of %s", in.Format, strings.Join(InputFormats, ", "))
		}
		if in.Timezone != "" {
			if _, err := time.LoadLocation(in.Timezone); err != nil {
				p.add(key+".timezone", "%v", err)
			}
		}
		for j, x := range in.Extract {
			xk := fmt.Sprintf("%s.extract[%d]", key, j)
			if x.Field == "" {
				p.add(xk+".field", "required")
			}
			if x.Pattern == "" {
				p.add(xk+".pattern", "required")
				continue
			}
			re, err := regexp.Compile(x.Pattern)
			if err != nil {
				p.add(xk+".pattern", "%v", err)
				continue
			}
			named := 0
			for _, n := range re.SubexpNames() {
				if n == "" {
					continue
				}
				named++
				if !fieldName.MatchString(n) {
					p.add(xk+".pattern", "group name %q is not a field name", n)
				}
			}
			if named == 0 {
				p.add(xk+".pattern", "no named group: write (?P<field>...) for each field to extract")
			}
		}
	}
}

func (c *Config) validateOutput(p *problems) {
	o := &c.Output
	if o.Format != "" && !slices.Contains(AlertFormats, o.Format) {
		p.add("output.format", "%q: want one of %s", o.Format, strings.Join(AlertFormats, ", "))
	}
	for i, s := range o.Sinks {
		key := fmt.Sprintf("output.sinks[%d]", i)
		if !slices.Contains(SinkTypes, s.Type) {
			p.add(key+".type", "%q: want one of %s", s.Type, strings.Join(SinkTypes, ", "))
			continue
		}
		if s.Format != "" && !slices.Contains(AlertFormats, s.Format) {
			p.add(key+".format", "%q: want one of %s", s.Format, strings.Join(AlertFormats, ", "))
		}
		set := map[string]bool{"topic": s.Topic != "", "compression": s.Compression != "", "path": s.Path != "",
			"url": s.URL != "", "headers": len(s.Headers) > 0, "body": s.Body != "", "timeout": s.Timeout != 0}
		allowed := map[string][]string{
			"kafka":   {"topic", "compression"},
			"stdout":  {},
			"file":    {"path"},
			"webhook": {"url", "headers", "body", "timeout"},
		}[s.Type]
		for _, f := range []string{"topic", "compression", "path", "url", "headers", "body", "timeout"} {
			if set[f] && !slices.Contains(allowed, f) {
				p.add(key+"."+f, "does not apply to a %s sink", s.Type)
			}
		}
		switch s.Type {
		case "kafka":
			if s.Topic == "" {
				p.add(key+".topic", "required for a kafka sink")
			}
			if !slices.Contains(compressions, s.Compression) {
				p.add(key+".compression", "%q: want none, gzip, snappy, lz4 or zstd", s.Compression)
			}
		case "file":
			if s.Path == "" {
				p.add(key+".path", "required for a file sink")
			}
		case "webhook":
			u, err := url.Parse(s.URL)
			if s.URL == "" {
				p.add(key+".url", "required for a webhook sink")
			} else if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				p.add(key+".url", "%q: want an http or https URL", s.URL)
			}
			switch s.Body {
			case "", "ndjson", "array", "single":
			default:
				p.add(key+".body", "%q: want ndjson, array or single", s.Body)
			}
			if s.Timeout < 0 {
				p.add(key+".timeout", "cannot be negative")
			}
		}
	}
}
