// Package rules reads Sigma rule files: detection, correlation and filter documents, several per
// file, with the file and line of every problem. It parses; compiling is detect's and correlate's.
package rules

import (
	"fmt"

	sigma "github.com/bradleyjkemp/sigma-go"
	"gopkg.in/yaml.v3"
)

// Error is a problem in a rule file, with its position.
type Error struct {
	Path string
	Line int // 0 when unknown
	Err  error
}

func (e *Error) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %v", e.Path, e.Line, e.Err)
	}
	return fmt.Sprintf("%s: %v", e.Path, e.Err)
}

func (e *Error) Unwrap() error { return e.Err }

// Errorf builds an Error at a position.
func Errorf(path string, line int, format string, args ...any) *Error {
	return &Error{Path: path, Line: line, Err: fmt.Errorf(format, args...)}
}

// Meta is what every Sigma document carries besides its logic.
type Meta struct {
	sigma.Rule        // as sigma-go parses it (its Detection is left empty: see Detection)
	Name       string // the `name` used by correlation and filter rules to refer to this one
	Path       string
	Line       int // line of the document's first key
}

// Key identifies a rule in alert ids and metrics: its id, else its name, else its title.
func (m *Meta) Key() string {
	switch {
	case m.ID != "":
		return m.ID
	case m.Name != "":
		return m.Name
	}
	return m.Title
}

// Ref is how correlations and filters name a rule: its id, else its name.
func (m *Meta) Ref() string {
	if m.ID != "" {
		return m.ID
	}
	return m.Name
}

// Rule is a Sigma detection rule.
type Rule struct {
	Meta
	Detection Detection
}

// Detection is a rule's `detection` section.
type Detection struct {
	Searches      []Search // in file order
	Conditions    []string // several conditions are ORed
	ConditionLine int
	Line          int
}

// Search is one named search identifier: a keyword list, or a list of field maps (ORed), each
// map's fields ANDed.
type Search struct {
	Name     string
	Line     int
	Keywords []FieldSpec // keyword list: field-less values, ORed (one spec per keyword line)
	Maps     [][]FieldSpec
}

// FieldSpec is one `field|modifier|...: value(s)` entry.
type FieldSpec struct {
	Field     string // "" for keyword maps such as `'|all': [...]`
	Modifiers []string
	Values    []Scalar
	List      bool // the YAML value was a list
	Line      int
}

// Scalar is a YAML value kept with its exact text, so large integers and literal forms survive.
type Scalar struct {
	Text string
	Tag  string // "!!str", "!!int", "!!float", "!!bool" or "!!null"
}

// IsNull reports whether the value is YAML null (`null`, `~` or empty).
func (s Scalar) IsNull() bool { return s.Tag == "!!null" }

// Correlation is a Sigma correlation rule; its section stays a YAML node for correlate to read.
type Correlation struct {
	Meta
	Node *yaml.Node // the `correlation` section
}

// Filter is a Sigma filter rule (global exclusions applied to named rules).
type Filter struct {
	Meta
	Node *yaml.Node // the `filter` section

	// Rules names the rules the filter applies to, by id or name. AllRules is set when the
	// section says `rules: any` (or `all`, or an empty list): every rule of the filter's
	// logsource.
	Rules    []string
	AllRules bool
	// Detection holds the filter's search identifiers and its single condition.
	Detection Detection
}

// Set is everything read from some paths.
type Set struct {
	Rules        []*Rule
	Correlations []*Correlation
	Filters      []*Filter
	Files        int
	Errors       []error // one per bad document or file; the rest still load
	// Limits bound what Add and LoadWith accept; zero fields mean the defaults.
	Limits Limits
}

// Limits bound what loading reads, so that a hostile file cannot exhaust the agent. YAML
// nesting (10000 levels) and alias expansion ("billion laughs") are bounded by yaml.v3 itself.
type Limits struct {
	// MaxFileBytes bounds one rule file (default DefaultMaxFileBytes); larger files are
	// reported and not read.
	MaxFileBytes int64
}

// DefaultMaxFileBytes is the default Limits.MaxFileBytes.
const DefaultMaxFileBytes = 4 << 20

func (l Limits) maxFileBytes() int64 {
	if l.MaxFileBytes > 0 {
		return l.MaxFileBytes
	}
	return DefaultMaxFileBytes
}
