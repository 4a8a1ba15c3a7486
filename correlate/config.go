package correlate

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/vigil-detect/vigil/config"
)

// Config is the `correlation:` section of Vigil's configuration.
type Config struct {
	// AllowedLateness is how far behind its partition's highest event time an alert may be and still
	// count (default 30s). Later ones are counted in vigil_correlation_late_events_total.
	AllowedLateness time.Duration `yaml:"allowed_lateness"`
	// MaxKeys bounds the groups each correlation rule keeps (default 100000); the least recently
	// updated group is evicted beyond it (vigil_correlation_evictions_total).
	MaxKeys int `yaml:"max_keys"`
	// MaxEventsPerKey bounds the events one group keeps (default 1000). Beyond it the oldest is
	// dropped (vigil_correlation_skipped_total{reason="state_full"}).
	MaxEventsPerKey int `yaml:"max_events_per_key"`
	// MaxAlertIDs bounds correlation.alert_ids in an alert (default 20).
	MaxAlertIDs int `yaml:"max_alert_ids"`
	// MaxValues bounds correlation.values and each entity list in an alert (default 20).
	MaxValues int            `yaml:"max_values"`
	Snapshot  SnapshotConfig `yaml:"snapshot"`
}

// SnapshotConfig is where and how often the correlation state is saved.
type SnapshotConfig struct {
	// Path of the snapshot file; empty: state is not saved (it is lost on restart).
	Path string `yaml:"path"`
	// Interval between snapshots (default 10s). Kafka offsets are committed only with a
	// snapshot, so this is also how much a crash makes Kafka deliver again.
	Interval time.Duration `yaml:"interval"`
}

// Defaults of Config.
const (
	DefaultAllowedLateness  = 30 * time.Second
	DefaultMaxKeys          = 100000
	DefaultMaxEventsPerKey  = 1000
	DefaultMaxAlertIDs      = 20
	DefaultMaxValues        = 20
	DefaultSnapshotInterval = 10 * time.Second
)

// DecodeConfig reads the `correlation:` section strictly: unknown keys and bad values are errors
// with the line they are on. An empty node gives the defaults. where names the file in errors.
func DecodeConfig(node *yaml.Node, where string) (Config, error) {
	c := Config{AllowedLateness: -1}
	if where == "" {
		where = "config"
	}
	if node != nil && node.Kind != 0 && !(node.Kind == yaml.ScalarNode && node.ShortTag() == "!!null") {
		var unknown []string
		config.CheckKeys(node, &c, "correlation", func(line int, msg string) {
			unknown = append(unknown, fmt.Sprintf("%s:%d: %s", where, line, msg))
		})
		if len(unknown) > 0 {
			return c, errors.New(strings.Join(unknown, "\n"))
		}
		if err := node.Decode(&c); err != nil {
			return c, fmt.Errorf("%s: correlation: %s", where, strings.TrimPrefix(err.Error(), "yaml: "))
		}
	}
	if c.AllowedLateness == -1 {
		c.AllowedLateness = DefaultAllowedLateness
	}
	var errs []string
	if c.AllowedLateness < 0 {
		errs = append(errs, "correlation.allowed_lateness cannot be negative")
	}
	if c.MaxKeys < 0 || c.MaxEventsPerKey < 0 || c.MaxAlertIDs < 0 || c.MaxValues < 0 {
		errs = append(errs, "correlation: max_* cannot be negative")
	}
	if c.Snapshot.Interval < 0 {
		errs = append(errs, "correlation.snapshot.interval cannot be negative")
	}
	if len(errs) > 0 {
		return c, fmt.Errorf("%s: %s", where, strings.Join(errs, "; "))
	}
	c.defaults()
	return c, nil
}

func (c *Config) defaults() {
	if c.MaxKeys == 0 {
		c.MaxKeys = DefaultMaxKeys
	}
	if c.MaxEventsPerKey == 0 {
		c.MaxEventsPerKey = DefaultMaxEventsPerKey
	}
	if c.MaxAlertIDs == 0 {
		c.MaxAlertIDs = DefaultMaxAlertIDs
	}
	if c.MaxValues == 0 {
		c.MaxValues = DefaultMaxValues
	}
	if c.Snapshot.Interval == 0 {
		c.Snapshot.Interval = DefaultSnapshotInterval
	}
}
