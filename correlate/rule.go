package correlate

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/vigil-detect/vigil/detect"
	"github.com/vigil-detect/vigil/rules"
)

// Type is a Sigma correlation type.
type Type uint8

// The correlation types of the Sigma specification (v2.1) and pySigma.
const (
	EventCount Type = iota + 1
	ValueCount
	Temporal
	TemporalOrdered
	ValueSum
	ValueAvg
	ValuePercentile
	ValueMedian
)

var typeNames = map[string]Type{
	"event_count": EventCount, "value_count": ValueCount, "temporal": Temporal,
	"temporal_ordered": TemporalOrdered, "value_sum": ValueSum, "value_avg": ValueAvg,
	"value_percentile": ValuePercentile, "value_median": ValueMedian,
}

func (t Type) String() string {
	for n, v := range typeNames {
		if v == t {
			return n
		}
	}
	return "unknown"
}

// numeric reports whether the type aggregates the numbers of a field.
func (t Type) numeric() bool { return t >= ValueSum }

// needsField reports whether the condition must name a field.
func (t Type) needsField() bool { return t == ValueCount || t.numeric() }

// Comparison operators of a correlation condition.
const (
	OpGT  = "gt"
	OpGTE = "gte"
	OpLT  = "lt"
	OpLTE = "lte"
	OpEQ  = "eq"
	OpNEQ = "neq"
)

// Comparison is one `op: number` of a condition.
type Comparison struct {
	Op string
	N  float64
}

// Condition is the AND of its comparisons (several make a range).
type Condition struct {
	Cmp        []Comparison
	Field      string  // value types: the field aggregated
	Percentile float64 // value_percentile: which percentile (0-100)
}

// Match reports whether the aggregate x meets every comparison.
func (c *Condition) Match(x float64) bool {
	for _, m := range c.Cmp {
		var ok bool
		switch m.Op {
		case OpGT:
			ok = x > m.N
		case OpGTE:
			ok = x >= m.N
		case OpLT:
			ok = x < m.N
		case OpLTE:
			ok = x <= m.N
		case OpEQ:
			ok = x == m.N
		case OpNEQ:
			ok = x != m.N
		}
		if !ok {
			return false
		}
	}
	return true
}

// lowerOnly reports whether every comparison is a lower bound (gt, gte): such a condition, once
// met, stays met as more events arrive.
func (c *Condition) lowerOnly() bool {
	for _, m := range c.Cmp {
		if m.Op != OpGT && m.Op != OpGTE {
			return false
		}
	}
	return true
}

// threshold is the smallest count a lower-bound-only condition on a count accepts.
func (c *Condition) threshold() float64 {
	t := math.Inf(-1)
	for _, m := range c.Cmp {
		n := m.N
		if m.Op == OpGT {
			n = math.Floor(m.N) + 1
		} else {
			n = math.Ceil(m.N)
		}
		t = max(t, n)
	}
	return t
}

func (c *Condition) String() string {
	parts := make([]string, len(c.Cmp))
	for i, m := range c.Cmp {
		parts[i] = m.Op + " " + strconv.FormatFloat(m.N, 'g', -1, 64)
	}
	s := strings.Join(parts, " and ")
	if c.Field != "" {
		s = c.Field + " " + s
	}
	return s
}

// Ref is one entry of a correlation's `rules`: a detection rule or another correlation.
type Ref struct {
	Text        string // as written
	Line        int
	Detection   *rules.Rule // the detection rule referred to, or
	Correlation *Rule       // the correlation rule referred to
}

// Key is how alerts and metrics name the referred rule.
func (r *Ref) Key() string {
	if r.Detection != nil {
		return r.Detection.Meta.Key()
	}
	return r.Correlation.Key
}

// Rule is a compiled correlation rule.
type Rule struct {
	*rules.Correlation
	Key      string // id, else name, else title
	Type     Type
	Refs     []Ref
	GroupBy  []string
	Timespan time.Duration
	Cond     Condition
	Generate bool
	// Eager rules fire as soon as a window meets the condition (the aggregate only grows and
	// the condition has no upper bound); the others are decided when a window closes.
	Eager bool
	// Suppressed rules are referred to by other correlations, none of which says generate:
	// their alerts feed those correlations but are not written.
	Suppressed bool
	// Fingerprint changes when anything that shapes the rule's state changes.
	Fingerprint string

	groupFields [][]string // per ref: the event field of each group-by name (aliases applied)
	valueField  []string   // per ref: the field aggregated (value types)
	aliases     map[string]map[string]string
	aliasLines  map[string]int // alias + "\x00" + rule name → line
	line        int            // line of the correlation section
	groupEntity []string       // per group-by name: "user", "host", "ip" or "" (set by the engine)
	valueEntity string         // value_count: the entity kind of the field counted, if any
}

// Set is the compiled correlation rules of a rule set, with what detection needs to know about
// them: which event fields to keep on alerts and which rules' own alerts to withhold.
type Set struct {
	Rules  []*Rule // valid correlations, in load order
	Errors []error // one per invalid correlation (*rules.Error)

	all       []*Rule // every parsed correlation, valid or not
	needed    map[any][]string
	consumers map[any][]consumer // *rules.Rule or *Rule → correlations fed by its alerts
	suppress  map[any]bool
}

// consumer is a correlation fed by a rule's alerts, and where in its `rules` that rule is.
type consumer struct {
	rule *Rule
	ref  int
}

// Compile parses and checks the correlation rules of set: references (by id or name, to
// detection rules or correlations), cycles, aliases and conditions. Invalid correlations are
// reported in Errors and left out, as are the correlations that depend on them.
func Compile(set *rules.Set) *Set {
	return compile(set, nil)
}

// CompileBound is Compile, also rejecting correlations that refer to detection rules that did
// not compile (those would never see an alert).
func CompileBound(set *rules.Set, compiled []*detect.Rule) *Set {
	ok := make(map[*rules.Rule]bool, len(compiled))
	for _, r := range compiled {
		ok[r.Rule] = true
	}
	return compile(set, ok)
}

func compile(set *rules.Set, compiled map[*rules.Rule]bool) *Set {
	s := &Set{}
	bad := map[*Rule]error{}
	for _, c := range set.Correlations {
		r, err := parse(c)
		s.all = append(s.all, r)
		if err != nil {
			bad[r] = err
		}
	}
	s.resolve(set, bad, compiled)
	s.checkCycles(bad)
	// A correlation fed by an invalid one is invalid too; repeat until nothing changes.
	for changed := true; changed; {
		changed = false
		for _, r := range s.all {
			if bad[r] != nil {
				continue
			}
			for _, ref := range r.Refs {
				if ref.Correlation != nil && bad[ref.Correlation] != nil {
					bad[r] = rules.Errorf(r.Path, r.line, "refers to correlation %q, which has errors", ref.Text)
					changed = true
					break
				}
			}
		}
	}
	for _, r := range s.all {
		if err := bad[r]; err != nil {
			s.Errors = append(s.Errors, err)
			continue
		}
		s.Rules = append(s.Rules, r)
	}
	s.link()
	return s
}

// resolve binds every reference and alias to a rule.
func (s *Set) resolve(set *rules.Set, bad map[*Rule]error, compiled map[*rules.Rule]bool) {
	type target struct {
		det  *rules.Rule
		corr *Rule
	}
	index := map[string][]target{}
	add := func(name string, t target) {
		if name != "" {
			index[name] = append(index[name], t)
		}
	}
	for _, r := range set.Rules {
		add(r.ID, target{det: r})
		if r.Name != r.ID {
			add(r.Name, target{det: r})
		}
	}
	for _, r := range s.all {
		add(r.ID, target{corr: r})
		if r.Name != r.ID {
			add(r.Name, target{corr: r})
		}
	}
	for _, r := range s.all {
		if bad[r] != nil {
			continue
		}
		err := func() error {
			for i := range r.Refs {
				ref := &r.Refs[i]
				ts := index[ref.Text]
				switch {
				case len(ts) == 0:
					return rules.Errorf(r.Path, ref.Line, "rules: no rule has the id or name %q", ref.Text)
				case len(ts) > 1:
					return rules.Errorf(r.Path, ref.Line, "rules: %q names %d rules; ids and names must be unique", ref.Text, len(ts))
				}
				ref.Detection, ref.Correlation = ts[0].det, ts[0].corr
				if ref.Correlation == r {
					return rules.Errorf(r.Path, ref.Line, "rules: %q is this correlation itself", ref.Text)
				}
				if ref.Detection != nil && compiled != nil && !compiled[ref.Detection] {
					return rules.Errorf(r.Path, ref.Line, "rules: %q did not compile (see its own error)", ref.Text)
				}
			}
			for i := range r.Refs {
				for j := range i {
					if sameTarget(&r.Refs[i], &r.Refs[j]) {
						return rules.Errorf(r.Path, r.Refs[i].Line, "rules: %q and %q are the same rule", r.Refs[j].Text, r.Refs[i].Text)
					}
				}
			}
			return r.bindFields()
		}()
		if err != nil {
			bad[r] = err
		}
	}
}

func sameTarget(a, b *Ref) bool {
	return (a.Detection != nil && a.Detection == b.Detection) || (a.Correlation != nil && a.Correlation == b.Correlation)
}

// bindFields works out, per referenced rule, which event field each group-by name and the
// value field read (aliases map a name to a different field per rule).
func (r *Rule) bindFields() error {
	refIndex := func(name string) int {
		for i := range r.Refs {
			ref := &r.Refs[i]
			if ref.Text == name {
				return i
			}
			var m *rules.Meta
			if ref.Detection != nil {
				m = &ref.Detection.Meta
			} else {
				m = &ref.Correlation.Correlation.Meta
			}
			if name != "" && (m.ID == name || m.Name == name) {
				return i
			}
		}
		return -1
	}
	perRef := map[string]map[int]string{}
	for alias, m := range r.aliases {
		perRef[alias] = map[int]string{}
		for name, field := range m {
			k := refIndex(name)
			if k < 0 {
				return rules.Errorf(r.Path, r.aliasLines[alias+"\x00"+name], "correlation.aliases.%s: %q is not one of this correlation's rules", alias, name)
			}
			perRef[alias][k] = field
		}
	}
	field := func(name string, k int) string {
		if f, ok := perRef[name][k]; ok {
			return f
		}
		return name
	}
	r.groupFields = make([][]string, len(r.Refs))
	r.valueField = make([]string, len(r.Refs))
	for k := range r.Refs {
		for _, g := range r.GroupBy {
			r.groupFields[k] = append(r.groupFields[k], field(g, k))
		}
		if r.Cond.Field != "" {
			r.valueField[k] = field(r.Cond.Field, k)
		}
	}
	return nil
}

// checkCycles marks every correlation on a cycle of references.
func (s *Set) checkCycles(bad map[*Rule]error) {
	const (
		white = iota
		grey
		black
	)
	color := map[*Rule]int{}
	var stack []*Rule
	var visit func(r *Rule)
	visit = func(r *Rule) {
		color[r] = grey
		stack = append(stack, r)
		for _, ref := range r.Refs {
			c := ref.Correlation
			if c == nil {
				continue
			}
			switch color[c] {
			case white:
				visit(c)
			case grey:
				// Every rule from c to the top of the stack is on the cycle.
				var names []string
				start := len(stack) - 1
				for stack[start] != c {
					start--
				}
				for _, x := range stack[start:] {
					names = append(names, x.Key)
				}
				names = append(names, c.Key)
				for _, x := range stack[start:] {
					if bad[x] == nil {
						bad[x] = rules.Errorf(x.Path, x.line, "rules: correlations refer to each other in a cycle: %s", strings.Join(names, " → "))
					}
				}
			}
		}
		stack = stack[:len(stack)-1]
		color[r] = black
	}
	for _, r := range s.all {
		if color[r] == white {
			visit(r)
		}
	}
}

// link computes, for the valid rules, who consumes whose alerts, the fields detection alerts
// must carry, and which rules are suppressed.
func (s *Set) link() {
	s.consumers = map[any][]consumer{}
	s.needed = map[any][]string{}
	s.suppress = map[any]bool{}
	generate := map[any]bool{}
	key := func(ref *Ref) any {
		if ref.Detection != nil {
			return ref.Detection
		}
		return ref.Correlation
	}
	for _, r := range s.Rules {
		for k := range r.Refs {
			t := key(&r.Refs[k])
			s.consumers[t] = append(s.consumers[t], consumer{rule: r, ref: k})
			if r.Generate {
				generate[t] = true
			}
			s.suppress[t] = true
		}
	}
	for t := range s.suppress {
		s.suppress[t] = !generate[t]
	}
	for _, r := range s.Rules {
		r.Suppressed = s.suppress[r]
	}
	// needed(x) = the fields of x's alerts that its consumers read, and what their consumers
	// read from them in turn (a correlation alert carries its completing alert's fields).
	var need func(t any, seen map[any]bool) []string
	need = func(t any, seen map[any]bool) []string {
		if f, ok := s.needed[t]; ok {
			return f
		}
		if seen[t] {
			return nil
		}
		seen[t] = true
		set := map[string]bool{}
		var out []string
		addf := func(f string) {
			if f != "" && !set[f] {
				set[f] = true
				out = append(out, f)
			}
		}
		for _, c := range s.consumers[t] {
			for _, f := range c.rule.groupFields[c.ref] {
				addf(f)
			}
			addf(c.rule.valueField[c.ref])
			for _, f := range need(c.rule, seen) {
				addf(f)
			}
		}
		s.needed[t] = out
		return out
	}
	for t := range s.consumers {
		need(t, map[any]bool{})
	}
}

// ExtraFields lists the event fields correlations read from a detection rule's alerts
// (pipeline.RuleOptions.ExtraFields).
func (s *Set) ExtraFields(r *detect.Rule) []string { return s.needed[r.Rule] }

// Suppress reports whether a detection rule's own alerts are withheld: correlations refer to it
// and none says `generate: true` (pipeline.RuleOptions.Suppress).
func (s *Set) Suppress(r *detect.Rule) bool { return s.suppress[r.Rule] }

// ---- parsing ---------------------------------------------------------------------------------

var timespanRE = regexp.MustCompile(`^([0-9]+)([smhdw])$`)

var timespanUnits = map[string]time.Duration{
	"s": time.Second, "m": time.Minute, "h": time.Hour, "d": 24 * time.Hour, "w": 7 * 24 * time.Hour,
}

// ParseTimespan reads a Sigma timespan: a whole number followed by s, m, h, d (or w).
func ParseTimespan(s string) (time.Duration, error) {
	m := timespanRE.FindStringSubmatch(s)
	if m == nil {
		return 0, fmt.Errorf("timespan %q: want a whole number followed by s, m, h or d (e.g. 90m)", s)
	}
	n, err := strconv.ParseInt(m[1], 10, 64)
	unit := timespanUnits[m[2]]
	if err != nil || n > int64(math.MaxInt64/unit) {
		return 0, fmt.Errorf("timespan %q is too long", s)
	}
	if n == 0 {
		return 0, fmt.Errorf("timespan %q must be longer than zero", s)
	}
	return time.Duration(n) * unit, nil
}

func resolveNode(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	return n
}

// parse reads one correlation document. It always returns the rule (so that references to an
// invalid one say so), with an error when it is invalid.
func parse(c *rules.Correlation) (*Rule, error) {
	r := &Rule{Correlation: c, Key: c.Meta.Key(), line: c.Line}
	errf := func(line int, format string, args ...any) error {
		return rules.Errorf(c.Path, line, format, args...)
	}
	n := resolveNode(c.Node)
	if n == nil || n.Kind != yaml.MappingNode {
		line := c.Line
		if n != nil {
			line = n.Line
		}
		return r, errf(line, "correlation must be a mapping (type, rules, group-by, timespan, condition)")
	}
	r.line = n.Line
	seen := map[string]*yaml.Node{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], resolveNode(n.Content[i+1])
		if _, dup := seen[k.Value]; dup {
			return r, errf(k.Line, "correlation.%s is given twice", k.Value)
		}
		seen[k.Value] = v
		switch k.Value {
		case "type", "rules", "group-by", "timespan", "timeframe", "condition", "aliases", "generate":
		default:
			return r, errf(k.Line, "correlation.%s: unknown key (want type, rules, group-by, timespan, condition, aliases, generate)", k.Value)
		}
	}
	str := func(key string) (string, int, error) {
		v := seen[key]
		if v.Kind != yaml.ScalarNode || v.ShortTag() != "!!str" {
			return "", v.Line, errf(v.Line, "correlation.%s must be a string", key)
		}
		return v.Value, v.Line, nil
	}
	// strList reads a list of strings (or one string) and the line of each.
	strList := func(key string) ([]string, []int, error) {
		v := seen[key]
		if v.Kind == yaml.ScalarNode && v.ShortTag() == "!!str" {
			return []string{v.Value}, []int{v.Line}, nil
		}
		if v.Kind != yaml.SequenceNode {
			return nil, nil, errf(v.Line, "correlation.%s must be a list of strings", key)
		}
		var out []string
		var lines []int
		for _, it := range v.Content {
			it = resolveNode(it)
			if it.Kind != yaml.ScalarNode || it.ShortTag() != "!!str" || it.Value == "" {
				return nil, nil, errf(it.Line, "correlation.%s must be a list of non-empty strings", key)
			}
			for _, o := range out {
				if o == it.Value {
					return nil, nil, errf(it.Line, "correlation.%s lists %q twice", key, it.Value)
				}
			}
			out = append(out, it.Value)
			lines = append(lines, it.Line)
		}
		return out, lines, nil
	}

	// type
	if seen["type"] == nil {
		return r, errf(r.line, "correlation.type is missing (want one of event_count, value_count, temporal, temporal_ordered, value_sum, value_avg, value_percentile, value_median)")
	}
	ts, line, err := str("type")
	if err != nil {
		return r, err
	}
	if r.Type = typeNames[ts]; r.Type == 0 {
		return r, errf(line, "correlation.type %q: want one of event_count, value_count, temporal, temporal_ordered, value_sum, value_avg, value_percentile, value_median", ts)
	}

	// rules
	if seen["rules"] == nil {
		return r, errf(r.line, "correlation.rules is missing: list the ids or names of the rules correlated")
	}
	refs, refLines, err := strList("rules")
	if err != nil {
		return r, err
	}
	if len(refs) == 0 {
		return r, errf(seen["rules"].Line, "correlation.rules is empty")
	}
	for i, t := range refs {
		r.Refs = append(r.Refs, Ref{Text: t, Line: refLines[i]})
	}
	if (r.Type == Temporal || r.Type == TemporalOrdered) && len(refs) > 64 {
		return r, errf(seen["rules"].Line, "correlation.rules: %s correlates at most 64 rules", r.Type)
	}

	// group-by (optional: without it every alert falls in one group)
	if seen["group-by"] != nil {
		if r.GroupBy, _, err = strList("group-by"); err != nil {
			return r, err
		}
	}

	// timespan (timeframe is the name of earlier drafts)
	tk := "timespan"
	if seen["timeframe"] != nil {
		if seen["timespan"] != nil {
			return r, errf(seen["timeframe"].Line, "correlation has both timespan and timeframe; keep timespan")
		}
		tk = "timeframe"
	}
	if seen[tk] == nil {
		return r, errf(r.line, "correlation.timespan is missing (e.g. timespan: 5m)")
	}
	tv := seen[tk]
	if tv.Kind != yaml.ScalarNode {
		return r, errf(tv.Line, "correlation.%s must be a number followed by s, m, h or d (e.g. 90m)", tk)
	}
	if r.Timespan, err = ParseTimespan(tv.Value); err != nil {
		return r, errf(tv.Line, "correlation.%v", err)
	}

	// condition
	if err := r.parseCondition(seen["condition"]); err != nil {
		return r, err
	}

	// aliases
	if v := seen["aliases"]; v != nil {
		if v.Kind != yaml.MappingNode {
			return r, errf(v.Line, "correlation.aliases must map alias names to {rule name: field}")
		}
		r.aliases, r.aliasLines = map[string]map[string]string{}, map[string]int{}
		for i := 0; i+1 < len(v.Content); i += 2 {
			ak, av := v.Content[i], resolveNode(v.Content[i+1])
			if av.Kind != yaml.MappingNode || len(av.Content) == 0 {
				return r, errf(av.Line, "correlation.aliases.%s must map rule names to field names", ak.Value)
			}
			if r.aliases[ak.Value] != nil {
				return r, errf(ak.Line, "correlation.aliases.%s is given twice", ak.Value)
			}
			m := map[string]string{}
			for j := 0; j+1 < len(av.Content); j += 2 {
				rk, rv := av.Content[j], resolveNode(av.Content[j+1])
				if rv.Kind != yaml.ScalarNode || rv.ShortTag() != "!!str" || rv.Value == "" {
					return r, errf(rv.Line, "correlation.aliases.%s.%s must be a field name", ak.Value, rk.Value)
				}
				if _, dup := m[rk.Value]; dup {
					return r, errf(rk.Line, "correlation.aliases.%s names rule %q twice", ak.Value, rk.Value)
				}
				m[rk.Value] = rv.Value
				r.aliasLines[ak.Value+"\x00"+rk.Value] = rk.Line
			}
			r.aliases[ak.Value] = m
		}
	}

	// generate: in the correlation section (pySigma) or at the top of the document (the JSON
	// schema); both agree when both are given.
	top, hasTop := c.AdditionalFields["generate"]
	if hasTop {
		b, ok := top.(bool)
		if !ok {
			return r, errf(c.Line, "generate must be true or false")
		}
		r.Generate = b
	}
	if v := seen["generate"]; v != nil {
		if v.Kind != yaml.ScalarNode || v.ShortTag() != "!!bool" {
			return r, errf(v.Line, "correlation.generate must be true or false")
		}
		b := v.Value == "true" || v.Value == "True" || v.Value == "TRUE"
		if hasTop && b != r.Generate {
			return r, errf(v.Line, "correlation.generate contradicts the document's generate")
		}
		r.Generate = b
	}
	r.Eager = r.Cond.lowerOnly() && !r.Type.numeric() || (r.Type == ValueSum && r.Cond.lowerOnly())
	r.Fingerprint = r.fingerprint()
	return r, nil
}

func (r *Rule) parseCondition(v *yaml.Node) error {
	errf := func(line int, format string, args ...any) error {
		return rules.Errorf(r.Path, line, format, args...)
	}
	if v == nil {
		switch r.Type {
		case Temporal, TemporalOrdered:
			// Every referenced rule must be seen (pySigma's default).
			r.Cond.Cmp = []Comparison{{OpGTE, float64(len(r.Refs))}}
			return nil
		}
		return errf(r.line, "correlation.condition is missing (e.g. condition: {gte: 10})")
	}
	if v.Kind != yaml.MappingNode {
		return errf(v.Line, "correlation.condition must be a mapping such as {gte: 10} (extended string conditions are not supported)")
	}
	hasPercentile := false
	for i := 0; i+1 < len(v.Content); i += 2 {
		k, n := v.Content[i], resolveNode(v.Content[i+1])
		switch k.Value {
		case OpGT, OpGTE, OpLT, OpLTE, OpEQ, OpNEQ:
			for _, c := range r.Cond.Cmp {
				if c.Op == k.Value {
					return errf(k.Line, "correlation.condition.%s is given twice", k.Value)
				}
			}
			x, err := number(n)
			if err != nil {
				return errf(n.Line, "correlation.condition.%s: %v", k.Value, err)
			}
			r.Cond.Cmp = append(r.Cond.Cmp, Comparison{k.Value, x})
		case "field":
			if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!str" || n.Value == "" {
				return errf(n.Line, "correlation.condition.field must be one field name")
			}
			r.Cond.Field = n.Value
		case "percentile":
			x, err := number(n)
			if err != nil || x < 0 || x > 100 {
				return errf(n.Line, "correlation.condition.percentile must be a number from 0 to 100")
			}
			r.Cond.Percentile, hasPercentile = x, true
		default:
			return errf(k.Line, "correlation.condition.%s: unknown key (want gt, gte, lt, lte, eq, neq, field, percentile)", k.Value)
		}
	}
	if len(r.Cond.Cmp) == 0 {
		return errf(v.Line, "correlation.condition has no comparison (gt, gte, lt, lte, eq or neq)")
	}
	switch {
	case r.Type.needsField() && r.Cond.Field == "":
		return errf(v.Line, "correlation.condition.field is missing: %s aggregates the values of a field", r.Type)
	case !r.Type.needsField() && r.Cond.Field != "":
		return errf(v.Line, "correlation.condition.field is only for value_* correlations, not %s", r.Type)
	case r.Type == ValuePercentile && !hasPercentile:
		return errf(v.Line, "correlation.condition.percentile is missing: value_percentile compares that percentile of the field (e.g. percentile: 95)")
	case r.Type != ValuePercentile && hasPercentile:
		return errf(v.Line, "correlation.condition.percentile is only for value_percentile")
	}
	if msg := r.Cond.impossible(); msg != "" {
		return errf(v.Line, "correlation.condition can never be true: %s", msg)
	}
	return nil
}

// impossible explains why no number meets every comparison ("" when some number does).
func (c *Condition) impossible() string {
	lo, loStrict := math.Inf(-1), false
	hi, hiStrict := math.Inf(1), false
	for _, m := range c.Cmp {
		switch m.Op {
		case OpGT, OpGTE:
			if m.N > lo || (m.N == lo && m.Op == OpGT) {
				lo, loStrict = m.N, m.Op == OpGT
			}
		case OpLT, OpLTE:
			if m.N < hi || (m.N == hi && m.Op == OpLT) {
				hi, hiStrict = m.N, m.Op == OpLT
			}
		}
	}
	if lo > hi || (lo == hi && (loStrict || hiStrict)) {
		return "the lower bound is above the upper bound"
	}
	for _, m := range c.Cmp {
		if m.Op == OpEQ && !c.Match(m.N) {
			return "eq is outside the range"
		}
	}
	return ""
}

// number reads a YAML int or float.
func number(n *yaml.Node) (float64, error) {
	if n.Kind != yaml.ScalarNode || (n.ShortTag() != "!!int" && n.ShortTag() != "!!float") {
		return 0, fmt.Errorf("want a number, got %q", n.Value)
	}
	var x float64
	if err := n.Decode(&x); err != nil || math.IsNaN(x) || math.IsInf(x, 0) {
		return 0, fmt.Errorf("want a finite number, got %q", n.Value)
	}
	return x, nil
}

// fingerprint identifies what the rule's state means: type, references, grouping, window and
// condition. State saved under one fingerprint is only restored into a rule with the same.
func (r *Rule) fingerprint() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s\x00%d\x00", r.Type, r.Timespan)
	for _, ref := range r.Refs {
		b.WriteString(ref.Text + "\x00")
	}
	b.WriteString("\x01")
	for _, g := range r.GroupBy {
		b.WriteString(g + "\x00")
	}
	b.WriteString("\x01" + r.Cond.String() + "\x01" + strconv.FormatFloat(r.Cond.Percentile, 'g', -1, 64))
	for _, a := range slices.Sorted(maps.Keys(r.aliases)) {
		b.WriteString("\x01" + a)
		for _, k := range slices.Sorted(maps.Keys(r.aliases[a])) {
			b.WriteString("\x00" + k + "=" + r.aliases[a][k])
		}
	}
	sum := sha256.Sum256([]byte(b.String()))
	return hex.EncodeToString(sum[:12])
}
