// Package config reads Vigil's YAML configuration: one file, then environment variables, then
// command-line flags, each overriding the one before. Unknown keys are errors.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Config is the whole configuration. docs/configuration.md documents every key; a test keeps the
// two in step.
type Config struct {
	Rules             []string            `yaml:"rules"`
	Logsources        []string            `yaml:"logsources"`
	BuiltinLogsources *bool               `yaml:"builtin_logsources"`
	Placeholders      map[string][]string `yaml:"placeholders"`
	FieldMappings     []string            `yaml:"field_mappings"`
	Explain           bool                `yaml:"explain"`
	TimeFields        []string            `yaml:"time_fields"`
	Kafka             Kafka               `yaml:"kafka"`
	Inputs            []Input             `yaml:"inputs"`
	Output            Output              `yaml:"output"`
	Pipeline          Pipeline            `yaml:"pipeline"`
	Metrics           Metrics             `yaml:"metrics"`
	Log               Log                 `yaml:"log"`
	Reload            Reload              `yaml:"reload"`
	RuleLimits        RuleLimits          `yaml:"rule_limits"`

	// Sections owned by other packages are kept as YAML and decoded (strictly) by them.
	Correlation yaml.Node `yaml:"correlation"`
	Response    yaml.Node `yaml:"response"`
	Entities    yaml.Node `yaml:"entities"`

	Path string `yaml:"-"`
	// lines maps key paths ("kafka.sasl.mechanism", "inputs[0].format") to their line in Path.
	lines map[string]int
}

// Kafka is the broker connection, input topics and output topics.
type Kafka struct {
	Brokers         []string `yaml:"brokers"`
	ClientID        string   `yaml:"client_id"`
	Group           string   `yaml:"group"`
	Topics          []string `yaml:"topics"`
	StartOffset     string   `yaml:"start_offset"` // earliest, latest or an RFC 3339 time
	AlertsTopic     string   `yaml:"alerts_topic"`
	DeadLetterTopic string   `yaml:"dead_letter_topic"`
	Compression     string   `yaml:"compression"`
	TLS             TLS      `yaml:"tls"`
	SASL            SASL     `yaml:"sasl"`
	// Consumer group timing (defaults 3s, 30s, 30s): a restarted agent waits up to the session
	// timeout for the group to drop its previous, dead member.
	HeartbeatInterval time.Duration `yaml:"heartbeat_interval"`
	SessionTimeout    time.Duration `yaml:"session_timeout"`
	RebalanceTimeout  time.Duration `yaml:"rebalance_timeout"`
	// Fetching (defaults 1 MiB per partition request, as Kafka's max.partition.fetch.bytes, and
	// 1s): larger fetches measured slower, their buffers churn memory (BENCHMARKS.md).
	FetchMaxBytes int           `yaml:"fetch_max_bytes"`
	FetchMaxWait  time.Duration `yaml:"fetch_max_wait"`
	// MaxMessageBytes bounds one produced alert or dead-letter record (default 1000000, under
	// Kafka's default message.max.bytes); see the README's Reliability section.
	MaxMessageBytes int `yaml:"max_message_bytes"`
}

// Reload controls rule hot reload (SIGHUP reloads too).
type Reload struct {
	Watch    *bool         `yaml:"watch"`    // poll the rule files' modification times (default true)
	Interval time.Duration `yaml:"interval"` // how often (default 5s)
	Strict   bool          `yaml:"strict"`   // refuse a rule set in which any rule fails (at start and on reload)
}

// RuleLimits bound what one rule file or rule may ask; zero means the default.
type RuleLimits struct {
	MaxFileBytes      int `yaml:"max_file_bytes"`      // default 4 MiB
	MaxRegexBytes     int `yaml:"max_regex_bytes"`     // default 4096
	MaxRegexProgram   int `yaml:"max_regex_program"`   // default 5000 instructions
	MaxValueVariants  int `yaml:"max_value_variants"`  // default 4096
	MaxConditionDepth int `yaml:"max_condition_depth"` // default 64
}

// TLS configures encrypted connections to the brokers.
type TLS struct {
	Enabled            bool   `yaml:"enabled"`
	CAFile             string `yaml:"ca_file"`
	CertFile           string `yaml:"cert_file"`
	KeyFile            string `yaml:"key_file"`
	ServerName         string `yaml:"server_name"`
	InsecureSkipVerify bool   `yaml:"insecure_skip_verify"`
}

// SASL configures broker authentication.
type SASL struct {
	Mechanism string `yaml:"mechanism"` // plain, scram-sha-256, scram-sha-512
	Username  string `yaml:"username"`
	Password  string `yaml:"password"`
}

// Input describes how the records of one topic are read: their format and the fields extracted
// from them. Topics without an entry carry JSON objects.
type Input struct {
	Topic    string    `yaml:"topic"`
	Format   string    `yaml:"format"`   // json, syslog, logfmt, cef, text
	Timezone string    `yaml:"timezone"` // for syslog timestamps without a zone (RFC 3164)
	Extract  []Extract `yaml:"extract"`
}

// Extract adds the named groups of a regular expression, matched on a field, as fields.
type Extract struct {
	Field   string `yaml:"field"`
	Pattern string `yaml:"pattern"`
}

// Output configures where alerts go besides the alerts topic.
type Output struct {
	Stdout bool   `yaml:"stdout"`
	File   string `yaml:"file"`
	Format string `yaml:"format"` // of stdout and file: vigil, ecs, ocsf
	Sinks  []Sink `yaml:"sinks"`
}

// Sink is one more alert destination with its own format.
type Sink struct {
	Type        string            `yaml:"type"`   // kafka, stdout, file, webhook
	Format      string            `yaml:"format"` // vigil, ecs, ocsf
	Topic       string            `yaml:"topic"`
	Compression string            `yaml:"compression"`
	Path        string            `yaml:"path"`
	URL         string            `yaml:"url"`
	Headers     map[string]string `yaml:"headers"`
	Body        string            `yaml:"body"` // webhook: ndjson, array, single
	Timeout     time.Duration     `yaml:"timeout"`
}

// Pipeline tunes processing.
type Pipeline struct {
	Workers        int           `yaml:"workers"`
	BatchSize      int           `yaml:"batch_size"`
	CommitEvery    int           `yaml:"commit_every"`
	CommitInterval time.Duration `yaml:"commit_interval"`
	MaxEventBytes  int           `yaml:"max_event_bytes"`
	MaxDepth       int           `yaml:"max_depth"`
	// Per-rule cost metrics: time every rule evaluation of one event in CostSampleEvery
	// (negative: off), with at most MaxCostSeries rule label values.
	CostSampleEvery int `yaml:"cost_sample_every"`
	MaxCostSeries   int `yaml:"max_cost_series"`
}

// Metrics configures the HTTP endpoint for /metrics, /healthz and /readyz.
type Metrics struct {
	Addr string `yaml:"addr"`
}

// Log configures logging.
type Log struct {
	Level  string `yaml:"level"`  // debug, info, warn, error
	Format string `yaml:"format"` // text, json
}

// Default returns the configuration used when no file is given.
func Default() *Config {
	return &Config{
		Kafka: Kafka{
			Brokers:         []string{"127.0.0.1:9092"},
			Group:           "vigil",
			StartOffset:     "earliest",
			AlertsTopic:     "vigil-alerts",
			DeadLetterTopic: "vigil-dead-letter",
			ClientID:        "vigil",
		},
		Metrics: Metrics{Addr: "127.0.0.1:9464"},
		Log:     Log{Level: "info", Format: "text"},
	}
}

// DefaultTopic is consumed when neither kafka.topics nor inputs name a topic.
const DefaultTopic = "events"

// Topics returns the topics to consume: kafka.topics, else the topics of the inputs, else
// DefaultTopic.
func (c *Config) Topics() []string {
	if len(c.Kafka.Topics) > 0 {
		return c.Kafka.Topics
	}
	var out []string
	for _, in := range c.Inputs {
		if in.Topic != "" && !slices.Contains(out, in.Topic) {
			out = append(out, in.Topic)
		}
	}
	if len(out) == 0 {
		out = []string{DefaultTopic}
	}
	return out
}

// Load reads a file over the defaults (path "" keeps the defaults), applies the VIGIL_*
// environment overrides, and validates the result.
func Load(path string) (*Config, error) {
	c, err := Parse(path, os.LookupEnv)
	if err != nil {
		return nil, err
	}
	return c, c.Validate()
}

// Parse reads a file over the defaults and applies the environment overrides found with lookup,
// without validating. ${VAR} references in the file are expanded with lookup too.
func Parse(path string, lookup func(string) (string, bool)) (*Config, error) {
	c := Default()
	if path != "" {
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, err
		}
		c.Path = path
		if err := c.parse(data, lookup); err != nil {
			return nil, err
		}
	}
	if err := c.ApplyEnv(lookup); err != nil {
		return nil, err
	}
	return c, nil
}

// parse decodes data over c. Unknown keys and type mismatches are reported all at once, one per
// line, as "file:line: problem".
func (c *Config) parse(data []byte, lookup func(string) (string, bool)) error {
	data = []byte(os.Expand(string(data), func(name string) string {
		if name == "$" { // "$$" stays a literal "$"
			return "$"
		}
		v, _ := lookup(name)
		return v
	}))
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return c.yamlError(err)
	}
	if root.Kind == 0 { // empty file
		return nil
	}
	c.lines = map[string]int{}
	var errs []string
	walk(&root, reflect.TypeOf(*c), "", c.lines, func(line int, msg string) {
		errs = append(errs, c.at(line)+msg)
	})
	if len(errs) > 0 {
		return errors.New(strings.Join(errs, "\n"))
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(c); err != nil && !errors.Is(err, io.EOF) {
		return c.yamlError(err)
	}
	return nil
}

// yamlError rewrites yaml.v3's "line N: msg" errors as "file:N: msg", one per line.
func (c *Config) yamlError(err error) error {
	var msgs []string
	var te *yaml.TypeError
	if errors.As(err, &te) {
		msgs = te.Errors
	} else {
		msgs = []string{strings.TrimPrefix(err.Error(), "yaml: ")}
	}
	out := make([]string, len(msgs))
	for i, m := range msgs {
		line := 0
		if rest, ok := strings.CutPrefix(m, "line "); ok {
			if n, tail, ok := strings.Cut(rest, ": "); ok {
				if v, err := strconv.Atoi(n); err == nil {
					line, m = v, tail
				}
			}
		}
		out[i] = c.at(line) + m
	}
	return errors.New(strings.Join(out, "\n"))
}

// at is the "file:line: " prefix of a message about line (0: unknown line).
func (c *Config) at(line int) string {
	where := c.Path
	if where == "" {
		where = "config"
	}
	if line > 0 {
		return fmt.Sprintf("%s:%d: ", where, line)
	}
	return where + ": "
}

// Line returns the line of a key path ("kafka.sasl.mechanism", "inputs[0].format") in the file,
// or 0 when it was not set there.
func (c *Config) Line(key string) int { return c.lines[key] }

// CheckKeys reports, through report(line, message), every mapping key under n that the type of
// out does not declare as a yaml field ("unknown key response.mode (did you mean modes?)"),
// recursing through structs, pointers, lists and maps. yaml.v3 decodes nodes without a strict
// mode; the packages owning a section (correlation, response) check theirs with this. prefix
// names n in the messages.
func CheckKeys(n *yaml.Node, out any, prefix string, report func(line int, msg string)) {
	walk(n, reflect.TypeOf(out), prefix, map[string]int{}, report)
}

// walk checks a mapping node against a struct type: every key must be a yaml-tagged field. It
// records each key's line under its dotted path and descends into nested structs, lists and maps
// of them. yaml.Node fields belong to other packages and are not descended into.
func walk(n *yaml.Node, t reflect.Type, prefix string, lines map[string]int, report func(int, string)) {
	if n.Kind == yaml.DocumentNode {
		for _, k := range n.Content {
			walk(k, t, prefix, lines, report)
		}
		return
	}
	if n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch {
	case t == nodeType:
		return
	case t.Kind() == reflect.Struct:
		if n.Kind != yaml.MappingNode {
			if !(n.Kind == yaml.ScalarNode && n.Tag == "!!null") {
				report(n.Line, fmt.Sprintf("%s: want a mapping of keys", orRoot(prefix)))
			}
			return
		}
		fields := yamlFields(t)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			f, ok := fields[k.Value]
			path := join(prefix, k.Value)
			if !ok {
				report(k.Line, fmt.Sprintf("unknown key %s%s", path, suggest(k.Value, fields)))
				continue
			}
			lines[path] = k.Line
			walk(v, f.Type, path, lines, report)
		}
	case t.Kind() == reflect.Slice && n.Kind == yaml.SequenceNode:
		for i, item := range n.Content {
			path := fmt.Sprintf("%s[%d]", prefix, i)
			lines[path] = item.Line
			walk(item, t.Elem(), path, lines, report)
		}
	case t.Kind() == reflect.Map && n.Kind == yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			path := join(prefix, n.Content[i].Value)
			lines[path] = n.Content[i].Line
			walk(n.Content[i+1], t.Elem(), path, lines, report)
		}
	}
}

var nodeType = reflect.TypeOf(yaml.Node{})

func orRoot(p string) string {
	if p == "" {
		return "the file"
	}
	return p
}

func join(prefix, key string) string {
	if prefix == "" {
		return key
	}
	return prefix + "." + key
}

// yamlFields maps the yaml names of a struct's fields to the fields.
func yamlFields(t reflect.Type) map[string]reflect.StructField {
	out := map[string]reflect.StructField{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "" || name == "-" || !f.IsExported() {
			continue
		}
		out[name] = f
	}
	return out
}

// suggest names the known key closest to an unknown one, or lists the known keys.
func suggest(key string, fields map[string]reflect.StructField) string {
	names := make([]string, 0, len(fields))
	for n := range fields {
		names = append(names, n)
	}
	sort.Strings(names)
	best, bestD := "", 3
	for _, n := range names {
		if d := editDistance(key, n); d < bestD {
			best, bestD = n, d
		}
	}
	if best != "" {
		return fmt.Sprintf(" (did you mean %s?)", best)
	}
	return " (known keys: " + strings.Join(names, ", ") + ")"
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// SplitList splits a comma-separated value, dropping empty items.
func SplitList(v string) []string {
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}
