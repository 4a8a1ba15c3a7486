// Package config reads Vigil's YAML configuration: one file, then environment variables, then
// command-line flags, each overriding the one before. Unknown keys are errors.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Config is the whole configuration. See docs/configuration.md for every key.
type Config struct {
	Rules             []string            `yaml:"rules"`
	Logsources        []string            `yaml:"logsources"`
	BuiltinLogsources *bool               `yaml:"builtin_logsources"`
	Placeholders      map[string][]string `yaml:"placeholders"`
	TimeFields        []string            `yaml:"time_fields"`
	Kafka             Kafka               `yaml:"kafka"`
	Output            Output              `yaml:"output"`
	Pipeline          Pipeline            `yaml:"pipeline"`
	Metrics           Metrics             `yaml:"metrics"`
	Log               Log                 `yaml:"log"`

	// Sections owned by other packages are kept as YAML and decoded (strictly) by them.
	Correlation yaml.Node `yaml:"correlation"`
	Response    yaml.Node `yaml:"response"`
	Entities    yaml.Node `yaml:"entities"`

	Path string `yaml:"-"`
}

// Kafka is the broker connection, input topics and output topics.
type Kafka struct {
	Brokers         []string `yaml:"brokers"`
	ClientID        string   `yaml:"client_id"`
	Group           string   `yaml:"group"`
	Topics          []string `yaml:"topics"`
	StartOffset     string   `yaml:"start_offset"`
	AlertsTopic     string   `yaml:"alerts_topic"`
	DeadLetterTopic string   `yaml:"dead_letter_topic"`
	Compression     string   `yaml:"compression"`
	TLS             TLS      `yaml:"tls"`
	SASL            SASL     `yaml:"sasl"`
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

// Output configures where alerts go besides the alerts topic.
type Output struct {
	Stdout bool   `yaml:"stdout"`
	File   string `yaml:"file"`
}

// Pipeline tunes processing.
type Pipeline struct {
	Workers        int           `yaml:"workers"`
	BatchSize      int           `yaml:"batch_size"`
	CommitEvery    int           `yaml:"commit_every"`
	CommitInterval time.Duration `yaml:"commit_interval"`
	MaxEventBytes  int           `yaml:"max_event_bytes"`
	MaxDepth       int           `yaml:"max_depth"`
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
			Topics:          []string{"events"},
			StartOffset:     "earliest",
			AlertsTopic:     "vigil-alerts",
			DeadLetterTopic: "vigil-dead-letter",
			ClientID:        "vigil",
		},
		Metrics: Metrics{Addr: "127.0.0.1:9464"},
		Log:     Log{Level: "info", Format: "text"},
	}
}

// Load reads a file over the defaults (path "" keeps the defaults), then applies environment
// overrides.
func Load(path string) (*Config, error) {
	c := Default()
	if path != "" {
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, err
		}
		if err := c.parse(path, data); err != nil {
			return nil, err
		}
		c.Path = path
	}
	if err := c.applyEnv(os.LookupEnv); err != nil {
		return nil, err
	}
	return c, c.Validate()
}

func (c *Config) parse(path string, data []byte) error {
	data = []byte(os.Expand(string(data), envOrEmpty))
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(c); err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("%s: %s", path, strings.TrimPrefix(err.Error(), "yaml: "))
	}
	return nil
}

// envOrEmpty expands ${VAR} references in the file; "$$" stays a literal "$".
func envOrEmpty(name string) string {
	if name == "$" {
		return "$"
	}
	return os.Getenv(name)
}

// envOverrides maps environment variables to setters.
var envOverrides = map[string]func(c *Config, v string) error{
	"VIGIL_BROKERS":           func(c *Config, v string) error { c.Kafka.Brokers = splitList(v); return nil },
	"VIGIL_TOPICS":            func(c *Config, v string) error { c.Kafka.Topics = splitList(v); return nil },
	"VIGIL_GROUP":             func(c *Config, v string) error { c.Kafka.Group = v; return nil },
	"VIGIL_ALERTS_TOPIC":      func(c *Config, v string) error { c.Kafka.AlertsTopic = v; return nil },
	"VIGIL_DEAD_LETTER_TOPIC": func(c *Config, v string) error { c.Kafka.DeadLetterTopic = v; return nil },
	"VIGIL_START_OFFSET":      func(c *Config, v string) error { c.Kafka.StartOffset = v; return nil },
	"VIGIL_RULES":             func(c *Config, v string) error { c.Rules = splitList(v); return nil },
	"VIGIL_METRICS_ADDR":      func(c *Config, v string) error { c.Metrics.Addr = v; return nil },
	"VIGIL_LOG_LEVEL":         func(c *Config, v string) error { c.Log.Level = v; return nil },
	"VIGIL_SASL_USERNAME":     func(c *Config, v string) error { c.Kafka.SASL.Username = v; return nil },
	"VIGIL_SASL_PASSWORD":     func(c *Config, v string) error { c.Kafka.SASL.Password = v; return nil },
}

// EnvVars lists the supported environment overrides.
func EnvVars() []string {
	out := make([]string, 0, len(envOverrides))
	for k := range envOverrides {
		out = append(out, k)
	}
	return out
}

func (c *Config) applyEnv(lookup func(string) (string, bool)) error {
	for name, set := range envOverrides {
		if v, ok := lookup(name); ok && v != "" {
			if err := set(c, v); err != nil {
				return fmt.Errorf("%s: %v", name, err)
			}
		}
	}
	return nil
}

func splitList(v string) []string {
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// SplitList splits a comma-separated flag value.
func SplitList(v string) []string { return splitList(v) }

// Validate checks values the YAML types cannot.
func (c *Config) Validate() error {
	var errs []string
	switch c.Kafka.StartOffset {
	case "", "earliest", "latest":
	default:
		errs = append(errs, fmt.Sprintf("kafka.start_offset %q: want earliest or latest", c.Kafka.StartOffset))
	}
	switch c.Kafka.Compression {
	case "", "none", "gzip", "snappy", "lz4", "zstd":
	default:
		errs = append(errs, fmt.Sprintf("kafka.compression %q: want none, gzip, snappy, lz4 or zstd", c.Kafka.Compression))
	}
	switch strings.ToLower(c.Kafka.SASL.Mechanism) {
	case "", "plain", "scram-sha-256", "scram-sha-512":
	default:
		errs = append(errs, fmt.Sprintf("kafka.sasl.mechanism %q: want plain, scram-sha-256 or scram-sha-512", c.Kafka.SASL.Mechanism))
	}
	switch strings.ToLower(c.Log.Level) {
	case "", "debug", "info", "warn", "error":
	default:
		errs = append(errs, fmt.Sprintf("log.level %q: want debug, info, warn or error", c.Log.Level))
	}
	switch c.Log.Format {
	case "", "text", "json":
	default:
		errs = append(errs, fmt.Sprintf("log.format %q: want text or json", c.Log.Format))
	}
	if c.Pipeline.Workers < 0 || c.Pipeline.BatchSize < 0 || c.Pipeline.CommitEvery < 0 || c.Pipeline.MaxEventBytes < 0 {
		errs = append(errs, "pipeline: sizes and counts cannot be negative")
	}
	if len(errs) > 0 {
		where := c.Path
		if where == "" {
			where = "config"
		}
		return fmt.Errorf("%s: %s", where, strings.Join(errs, "; "))
	}
	return nil
}
