package respond

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/vigil-detect/vigil/alert"
	"github.com/vigil-detect/vigil/respond/enrich"
)

// Config is the `response:` section of the configuration. docs/response.md documents every key.
type Config struct {
	ForceDryRun bool                     `yaml:"force_dry_run"`
	Scoring     Scoring                  `yaml:"scoring"`
	Enrichment  *Enrichment              `yaml:"enrichment"`
	Risk        *Risk                    `yaml:"risk"`
	Suppress    *Suppress                `yaml:"suppress"`
	Allowlist   Allowlist                `yaml:"allowlist"`
	RateLimit   string                   `yaml:"rate_limit"`
	Actions     map[string]*ActionConfig `yaml:"actions"`
	Playbooks   []*Playbook              `yaml:"playbooks"`
	Approvals   Approvals                `yaml:"approvals"`
	Audit       Audit                    `yaml:"audit"`
	Queue       Queue                    `yaml:"queue"`
	RevertState string                   `yaml:"revert_state"`
}

// Scoring configures the 0-100 score (see Scorer for the formula).
type Scoring struct {
	Levels       map[string]int `yaml:"levels"`
	UnknownLevel *int           `yaml:"unknown_level"`
	Rules        map[string]int `yaml:"rules"`
	Correlation  *int           `yaml:"correlation"`
	Indicator    *int           `yaml:"indicator"`
	IndicatorMax *int           `yaml:"indicator_max"`
	Asset        map[string]int `yaml:"asset"`
}

// Enrichment names the indicator lists and asset files.
type Enrichment struct {
	Indicators     []IndicatorList `yaml:"indicators"`
	Assets         []string        `yaml:"assets"`
	ReloadInterval *Duration       `yaml:"reload_interval"`
}

// IndicatorList is one indicator file.
type IndicatorList struct {
	Name string `yaml:"name"`
	File string `yaml:"file"`
	Type string `yaml:"type"`
}

// Risk configures entity risk (risk-based alerting).
type Risk struct {
	Threshold   float64  `yaml:"threshold"`
	HalfLife    Duration `yaml:"half_life"`
	Factor      *float64 `yaml:"factor"`
	Rearm       *float64 `yaml:"rearm"`
	Entities    []string `yaml:"entities"`
	MaxEntities int      `yaml:"max_entities"`
	Level       string   `yaml:"level"`
	Kinds       []string `yaml:"kinds"`
}

// Suppress configures the merging of identical alerts.
type Suppress struct {
	Window     Duration                `yaml:"window"`
	Key        []string                `yaml:"key"`
	Rules      map[string]SuppressRule `yaml:"rules"`
	MaxEntries int                     `yaml:"max_entries"`
}

// SuppressRule overrides the window or key for one rule.
type SuppressRule struct {
	Window *Duration `yaml:"window"`
	Key    []string  `yaml:"key"`
}

// Allowlist names what no action ever touches.
type Allowlist struct {
	CIDRs []string `yaml:"cidrs"`
	Users []string `yaml:"users"`
	Hosts []string `yaml:"hosts"`
}

// ActionConfig is a named action: a transport (webhook, kafka, exec), what it acts on, and its
// safety limits.
type ActionConfig struct {
	Type   string `yaml:"type"`
	Target string `yaml:"target"`

	URL             string            `yaml:"url"`
	Headers         map[string]string `yaml:"headers"`
	Secret          string            `yaml:"secret"`
	SignatureHeader string            `yaml:"signature_header"`
	Topic           string            `yaml:"topic"`
	Key             string            `yaml:"key"`
	Command         []string          `yaml:"command"`
	Env             []string          `yaml:"env"`
	Body            string            `yaml:"body"`

	Timeout             Duration  `yaml:"timeout"`
	Retries             *int      `yaml:"retries"`
	Backoff             Duration  `yaml:"backoff"`
	RateLimit           string    `yaml:"rate_limit"`
	MaxTargetsPerMinute *int      `yaml:"max_targets_per_minute"`
	BreakerReset        Duration  `yaml:"breaker_reset"`
	Cooldown            *Duration `yaml:"cooldown"`
	RevertAfter         Duration  `yaml:"revert_after"`
	Revert              *Revert   `yaml:"revert"`
}

// Revert overrides what the undo of a reversible action sends.
type Revert struct {
	URL     string   `yaml:"url"`
	Body    string   `yaml:"body"`
	Key     string   `yaml:"key"`
	Command []string `yaml:"command"`
}

// Playbook says which alerts trigger which actions.
type Playbook struct {
	Name    string           `yaml:"name"`
	Enabled *bool            `yaml:"enabled"`
	Mode    string           `yaml:"mode"`
	Match   Match            `yaml:"match"`
	Actions []PlaybookAction `yaml:"actions"`
}

// Match selects alerts; every condition given must hold.
type Match struct {
	Rules    []string `yaml:"rules"`
	Tags     []string `yaml:"tags"`
	MinLevel string   `yaml:"min_level"`
	MinScore int      `yaml:"min_score"`
	Kinds    []string `yaml:"kinds"`
	Entity   string   `yaml:"entity"`
}

// PlaybookAction runs one named action.
type PlaybookAction struct {
	Action   string            `yaml:"action"`
	Approval string            `yaml:"approval"`
	Params   map[string]string `yaml:"params"`
}

// Approvals configures the approval queue and its HTTP API.
type Approvals struct {
	Addr       string   `yaml:"addr"`
	Token      string   `yaml:"token"`
	Expire     Duration `yaml:"expire"`
	MaxPending int      `yaml:"max_pending"`
}

// Audit configures where decisions are recorded besides the log.
type Audit struct {
	File       string `yaml:"file"`
	KafkaTopic string `yaml:"kafka_topic"`
}

// Queue sizes the asynchronous execution of actions.
type Queue struct {
	Size         int      `yaml:"size"`
	Workers      int      `yaml:"workers"`
	DrainTimeout Duration `yaml:"drain_timeout"`
}

// Duration is a time.Duration written as a Go duration string ("90s", "15m", "1h").
type Duration time.Duration

// UnmarshalYAML rejects bare numbers, which yaml.v3 would read as nanoseconds.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := time.ParseDuration(n.Value)
	if n.Kind != yaml.ScalarNode || err != nil {
		return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: %q is not a duration (write e.g. 30s, 15m, 1h)", n.Line, n.Value)}}
	}
	if v < 0 {
		return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: duration %s is negative", n.Line, n.Value)}}
	}
	*d = Duration(v)
	return nil
}

// D is the value as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// Modes of a playbook.
const (
	ModeDryRun  = "dry-run"
	ModeEnforce = "enforce"
)

// Target types.
const (
	TargetIP    = "ip"
	TargetUser  = "user"
	TargetHost  = "host"
	TargetAlert = "alert"
)

// builtin describes the named response actions Vigil knows.
type builtin struct {
	target     string
	operation  string
	revert     string // "" when not reversible
	reversible bool
}

var builtins = map[string]builtin{
	"block_ip":        {TargetIP, "block_ip", "unblock_ip", true},
	"disable_account": {TargetUser, "disable_account", "enable_account", true},
	"isolate_host":    {TargetHost, "isolate_host", "release_host", true},
	"create_ticket":   {TargetAlert, "create_ticket", "", false},
	"notify":          {TargetAlert, "notify", "", false},
}

// Defaults applied to what the section leaves out.
const (
	defaultTimeout       = 10 * time.Second
	defaultRetries       = 3
	defaultBackoff       = time.Second
	defaultCooldown      = 15 * time.Minute
	defaultMaxTargets    = 20
	defaultBreakerReset  = 5 * time.Minute
	defaultActionRate    = "30/1m"
	defaultGlobalRate    = "60/1m"
	defaultQueueSize     = 1024
	defaultWorkers       = 4
	defaultDrainTimeout  = 30 * time.Second
	defaultApprovalsAddr = "127.0.0.1:9465"
	defaultExpire        = 30 * time.Minute
	defaultMaxPending    = 1000
	defaultReload        = 30 * time.Second
	defaultSignature     = "X-Vigil-Signature"
	minTokenLength       = 16
)

// ParseConfig decodes and validates the response section. node is config.Config.Response; file
// is the configuration file's path, for error messages. A zero node yields (nil, nil): response
// is off.
func ParseConfig(node *yaml.Node, file string) (*Config, error) {
	if node == nil || node.Kind == 0 {
		return nil, nil
	}
	errs := &configErrors{file: file, root: node}
	if n := resolve(node); n != nil && n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return nil, nil
	}
	c := &Config{}
	decodeStrict(node, c, errs)
	if err := errs.err(); err != nil {
		return nil, err
	}
	c.validate(errs)
	return c, errs.err()
}

func (c *Config) validate(errs *configErrors) {
	validLevel := func(p path, l string) {
		if l != "" && alert.LevelRank(l) < 0 {
			errs.at(p, "level %q: want one of %s", l, strings.Join(alert.Levels, ", "))
		}
	}
	for l, v := range c.Scoring.Levels {
		validLevel(path{"scoring", "levels", l}, l)
		checkScore(errs, path{"scoring", "levels", l}, v)
	}
	for r, v := range c.Scoring.Rules {
		checkScore(errs, path{"scoring", "rules", r}, v)
	}
	for k, v := range c.Scoring.Asset {
		if enrich.CriticalityRank(k) < 0 {
			errs.at(path{"scoring", "asset", k}, "criticality %q: want one of %s", k, strings.Join(enrich.Criticalities, ", "))
		}
		checkScore(errs, path{"scoring", "asset", k}, v)
	}
	for _, p := range []struct {
		v *int
		k string
	}{{c.Scoring.UnknownLevel, "unknown_level"}, {c.Scoring.Correlation, "correlation"}, {c.Scoring.Indicator, "indicator"}, {c.Scoring.IndicatorMax, "indicator_max"}} {
		if p.v != nil {
			checkScore(errs, path{"scoring", p.k}, *p.v)
		}
	}

	if e := c.Enrichment; e != nil {
		for i, l := range e.Indicators {
			p := path{"enrichment", "indicators"}.idx(i)
			if l.File == "" {
				errs.at(p, "file is required")
			}
			switch strings.ToLower(l.Type) {
			case "", enrich.TypeAuto, enrich.TypeIP, enrich.TypeCIDR, enrich.TypeDomain, enrich.TypeHash:
			default:
				errs.at(p.key("type"), "%q: want auto, ip, cidr, domain or hash", l.Type)
			}
		}
	}

	if r := c.Risk; r != nil {
		if r.Threshold <= 0 {
			errs.at(path{"risk", "threshold"}, "must be greater than 0")
		}
		if r.Factor != nil && *r.Factor <= 0 {
			errs.at(path{"risk", "factor"}, "must be greater than 0")
		}
		if r.Rearm != nil && (*r.Rearm < 0 || *r.Rearm > 1) {
			errs.at(path{"risk", "rearm"}, "must be between 0 and 1")
		}
		if r.MaxEntities < 0 {
			errs.at(path{"risk", "max_entities"}, "cannot be negative")
		}
		validLevel(path{"risk", "level"}, r.Level)
		checkEntityTypes(errs, path{"risk", "entities"}, r.Entities)
		checkKinds(errs, path{"risk", "kinds"}, r.Kinds)
	}

	if s := c.Suppress; s != nil {
		checkEntityTypes(errs, path{"suppress", "key"}, s.Key)
		for k, r := range s.Rules {
			checkEntityTypes(errs, path{"suppress", "rules", k, "key"}, r.Key)
		}
		if s.MaxEntries < 0 {
			errs.at(path{"suppress", "max_entries"}, "cannot be negative")
		}
	}

	for i, s := range c.Allowlist.CIDRs {
		if _, err := parsePrefix(s); err != nil {
			errs.at(path{"allowlist", "cidrs"}.idx(i), "%q is not an address or CIDR range", s)
		}
	}
	if _, err := parseRate(c.RateLimit, defaultGlobalRate); err != nil {
		errs.at(path{"rate_limit"}, "%v", err)
	}

	for name, a := range c.Actions {
		c.validateAction(errs, path{"actions", name}, name, a)
	}

	names := map[string]bool{}
	needApproval := false
	for i, pb := range c.Playbooks {
		p := path{"playbooks"}.idx(i)
		if pb == nil {
			errs.at(p, "empty playbook")
			continue
		}
		if pb.Name == "" {
			errs.at(p, "name is required")
		} else if names[pb.Name] {
			errs.at(p.key("name"), "playbook %q is defined twice", pb.Name)
		}
		names[pb.Name] = true
		switch pb.Mode {
		case "", ModeDryRun, ModeEnforce:
		default:
			errs.at(p.key("mode"), "%q: want %s (the default) or %s", pb.Mode, ModeDryRun, ModeEnforce)
		}
		validLevel(p.key("match").key("min_level"), pb.Match.MinLevel)
		checkScore(errs, p.key("match").key("min_score"), pb.Match.MinScore)
		checkKinds(errs, p.key("match").key("kinds"), pb.Match.Kinds)
		if e := pb.Match.Entity; e != "" {
			checkEntityTypes(errs, p.key("match").key("entity"), []string{e})
		}
		if len(pb.Actions) == 0 {
			errs.at(p, "no actions")
		}
		for j, pa := range pb.Actions {
			ap := p.key("actions").idx(j)
			if pa.Action == "" {
				errs.at(ap, "action is required")
			} else if _, ok := c.Actions[pa.Action]; !ok {
				hint := ""
				if _, ok := builtins[pa.Action]; ok {
					hint = fmt.Sprintf(" (%s is a built-in action, but it still needs a transport under response.actions.%s)", pa.Action, pa.Action)
				}
				errs.at(ap.key("action"), "action %q is not defined under response.actions%s", pa.Action, hint)
			}
			switch pa.Approval {
			case "", "none":
			case "required":
				if (pb.Enabled == nil || *pb.Enabled) && pb.Mode == ModeEnforce {
					needApproval = true
				}
			default:
				errs.at(ap.key("approval"), "%q: want none (the default) or required", pa.Approval)
			}
		}
	}

	if c.Approvals.Token == "" {
		c.Approvals.Token = os.Getenv("VIGIL_APPROVAL_TOKEN")
	}
	if needApproval {
		switch {
		case c.Approvals.Token == "":
			errs.at(path{"approvals", "token"}, "required when an enforcing playbook has an action with approval: required (or set VIGIL_APPROVAL_TOKEN)")
		case len(c.Approvals.Token) < minTokenLength:
			errs.at(path{"approvals", "token"}, "too short: use at least %d characters", minTokenLength)
		}
	}
	if c.Approvals.MaxPending < 0 {
		errs.at(path{"approvals", "max_pending"}, "cannot be negative")
	}
	if c.Queue.Size < 0 || c.Queue.Workers < 0 {
		errs.at(path{"queue"}, "size and workers cannot be negative")
	}
}

func (c *Config) validateAction(errs *configErrors, p path, name string, a *ActionConfig) {
	if a == nil {
		errs.at(p, "empty action")
		return
	}
	before := len(errs.errs)
	b, isBuiltin := builtins[name]
	switch a.Target {
	case "":
		if !isBuiltin {
			errs.at(p, "target is required for a custom action (ip, user, host or alert)")
		}
	case TargetIP, TargetUser, TargetHost, TargetAlert:
		if isBuiltin && a.Target != b.target {
			errs.at(p.key("target"), "%s always acts on %s", name, b.target)
		}
	default:
		errs.at(p.key("target"), "%q: want ip, user, host or alert", a.Target)
	}
	switch a.Type {
	case "webhook":
		if a.URL == "" {
			errs.at(p.key("url"), "required for a webhook (empty: is the environment variable it names set?)")
		}
		if a.Topic != "" || len(a.Command) > 0 || len(a.Env) > 0 {
			errs.at(p, "a webhook takes url, headers, secret and body, not topic, command or env")
		}
	case "kafka":
		if a.Topic == "" {
			errs.at(p.key("topic"), "required for a kafka action")
		}
		if a.URL != "" || len(a.Command) > 0 || len(a.Env) > 0 {
			errs.at(p, "a kafka action takes topic, key and body, not url, command or env")
		}
	case "exec":
		if len(a.Command) == 0 || a.Command[0] == "" {
			errs.at(p.key("command"), "required for an exec action: the program and its arguments")
		} else if strings.Contains(a.Command[0], "{{") {
			errs.at(p.key("command").idx(0), "the program cannot be a template: alert data must never choose what runs")
		} else if _, err := exec.LookPath(a.Command[0]); err != nil {
			errs.at(p.key("command").idx(0), "%v", err)
		}
		if a.URL != "" || a.Topic != "" {
			errs.at(p, "an exec action takes command, env and body, not url or topic")
		}
		for i, v := range a.Env {
			if v == "" || strings.ContainsAny(v, "= ") {
				errs.at(p.key("env").idx(i), "%q: want the name of an environment variable to pass on", v)
			}
		}
		if a.Revert != nil && len(a.Revert.Command) > 0 {
			if strings.Contains(a.Revert.Command[0], "{{") {
				errs.at(p.key("revert").key("command").idx(0), "the program cannot be a template")
			} else if _, err := exec.LookPath(a.Revert.Command[0]); err != nil {
				errs.at(p.key("revert").key("command").idx(0), "%v", err)
			}
		}
	case "":
		errs.at(p, "type is required: webhook, kafka or exec")
	default:
		errs.at(p.key("type"), "%q: want webhook, kafka or exec", a.Type)
	}
	if a.Retries != nil && *a.Retries < 0 {
		errs.at(p.key("retries"), "cannot be negative")
	}
	if a.MaxTargetsPerMinute != nil && *a.MaxTargetsPerMinute < 0 {
		errs.at(p.key("max_targets_per_minute"), "cannot be negative (0 turns the circuit breaker off)")
	}
	if _, err := parseRate(a.RateLimit, defaultActionRate); err != nil {
		errs.at(p.key("rate_limit"), "%v", err)
	}
	reversible := a.Revert != nil || isBuiltin && b.reversible
	if a.RevertAfter > 0 && !reversible {
		errs.at(p.key("revert_after"), "%s is not reversible: give a revert: section saying how to undo it", name)
	}
	if len(errs.errs) > before {
		return // the templates would only repeat what is wrong
	}
	if _, err := a.templates(name); err != nil {
		errs.at(p, "%v", err)
	}
}

func checkScore(errs *configErrors, p path, v int) {
	if v < 0 || v > 100 {
		errs.at(p, "%d: want 0 to 100", v)
	}
}

func checkEntityTypes(errs *configErrors, p path, types []string) {
	for i, t := range types {
		switch t {
		case TargetIP, TargetUser, TargetHost:
		default:
			errs.at(p.idx(i), "%q: want user, host or ip", t)
		}
	}
}

func checkKinds(errs *configErrors, p path, kinds []string) {
	for i, k := range kinds {
		switch k {
		case alert.KindDetection, alert.KindCorrelation, alert.KindRisk:
		default:
			errs.at(p.idx(i), "%q: want detection, correlation or risk", k)
		}
	}
}

// parsePrefix reads a CIDR range or a single address.
func parsePrefix(s string) (netip.Prefix, error) {
	if a, err := netip.ParseAddr(strings.TrimSpace(s)); err == nil {
		a = a.Unmap()
		return netip.PrefixFrom(a, a.BitLen()), nil
	}
	p, err := netip.ParsePrefix(strings.TrimSpace(s))
	if err != nil {
		return p, err
	}
	p = p.Masked()
	if p.Addr().Is4In6() {
		p = netip.PrefixFrom(p.Addr().Unmap(), max(p.Bits()-96, 0))
	}
	return p, nil
}

// rate is N actions per period; zero N means unlimited.
type rate struct {
	n      int
	period time.Duration
}

// parseRate reads "N/period" ("30/1m", "5/s", "100/h") or "unlimited".
func parseRate(s, def string) (rate, error) {
	if s == "" {
		s = def
	}
	if s == "unlimited" {
		return rate{}, nil
	}
	ns, ps, ok := strings.Cut(s, "/")
	n, err := strconv.Atoi(strings.TrimSpace(ns))
	if !ok || err != nil || n <= 0 {
		return rate{}, fmt.Errorf("rate %q: want N/period, e.g. 30/1m, 5/s, or unlimited", s)
	}
	ps = strings.TrimSpace(ps)
	if slices.Contains([]string{"s", "m", "h"}, ps) {
		ps = "1" + ps
	}
	d, err := time.ParseDuration(ps)
	if err != nil || d <= 0 {
		return rate{}, fmt.Errorf("rate %q: period %q is not a positive duration", s, ps)
	}
	return rate{n, d}, nil
}

// Check validates the response section as `vigil config check` does: the keys and values, the
// indicator and asset files, and the directories of the files it writes. It starts nothing and
// connects to nothing.
func Check(node *yaml.Node, file string) error {
	c, err := ParseConfig(node, file)
	if err != nil || c == nil {
		return err
	}
	var errs []error
	if e := c.Enrichment; e != nil {
		src := enrich.Sources{Assets: e.Assets}
		for _, l := range e.Indicators {
			src.Lists = append(src.Lists, enrich.List{Name: l.Name, File: l.File, Type: l.Type})
		}
		if _, err := enrich.Load(src); err != nil {
			errs = append(errs, fmt.Errorf("response.enrichment: %w", err))
		}
	}
	if err := statePath(c.RevertState); err != nil {
		errs = append(errs, err)
	}
	if c.Audit.File != "" {
		if fi, err := os.Stat(filepath.Dir(c.Audit.File)); err != nil || !fi.IsDir() {
			errs = append(errs, fmt.Errorf("response.audit.file %s: directory does not exist", c.Audit.File))
		}
	}
	return errors.Join(errs...)
}
