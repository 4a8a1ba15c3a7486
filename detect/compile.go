package detect

import (
	"fmt"
	"strings"

	sigma "github.com/bradleyjkemp/sigma-go"

	"github.com/vigil-detect/vigil/event"
	"github.com/vigil-detect/vigil/rules"
)

// node is a compiled piece of a rule's condition.
type node interface {
	eval(ev *event.Event) bool
}

type (
	andNode []node
	orNode  []node
	notNode struct{ x node }
	// searchNode is a named search identifier; the name serves explain.
	searchNode struct {
		name string
		x    node
	}
)

func (n andNode) eval(ev *event.Event) bool {
	for _, x := range n {
		if !x.eval(ev) {
			return false
		}
	}
	return true
}

func (n orNode) eval(ev *event.Event) bool {
	for _, x := range n {
		if x.eval(ev) {
			return true
		}
	}
	return false
}

func (n notNode) eval(ev *event.Event) bool     { return !n.x.eval(ev) }
func (n *searchNode) eval(ev *event.Event) bool { return n.x.eval(ev) }

// fieldKind distinguishes value comparisons from presence checks.
type fieldKind uint8

const (
	fieldValues  fieldKind = iota
	fieldNull              // `field: null`: absent or null
	fieldNotNull           // `field|neq: null`: present and not null
	fieldExists            // `field|exists: true`: present (even when null or empty)
	fieldMissing           // `field|exists: false`
)

// fieldMatcher is one `field|modifiers: values` entry.
type fieldMatcher struct {
	spec    string // as written in the rule, for explain
	search  string // the search identifier it belongs to, for explain
	fields  []int  // event fields the rule field maps to (ORed); unused for keywords
	refs    []int  // fields named by fieldref values (neq needs one of them present)
	keyword bool   // match against every value of the event
	kind    fieldKind
	vals    []valueMatcher
	all     bool // every value must match (else any)
	neq     bool // the field is present and the item does not match
}

func (f *fieldMatcher) eval(ev *event.Event) bool {
	switch f.kind {
	case fieldNull:
		return !f.hasNonNull(ev)
	case fieldNotNull:
		return f.hasNonNull(ev)
	case fieldExists:
		return f.present(ev)
	case fieldMissing:
		return !f.present(ev)
	}
	ok := f.matchValues(ev)
	if f.neq {
		// A missing (or null) field never matches a value, negated or not: neq means "has a value,
		// and it is different".
		return !ok && (f.keyword || f.hasNonNull(ev)) && f.refsPresent(ev)
	}
	return ok
}

// matchValues reports whether the field's values satisfy the item (before neq).
func (f *fieldMatcher) matchValues(ev *event.Event) bool {
	if f.all {
		for _, vm := range f.vals {
			if !f.anyValue(ev, vm) {
				return false
			}
		}
		return len(f.vals) > 0
	}
	for _, vm := range f.vals {
		if f.anyValue(ev, vm) {
			return true
		}
	}
	return false
}

func (f *fieldMatcher) hasNonNull(ev *event.Event) bool {
	for _, fi := range f.fields {
		for _, v := range ev.Values(fi) {
			if v.Kind != event.Null {
				return true
			}
		}
	}
	return false
}

func (f *fieldMatcher) present(ev *event.Event) bool {
	for _, fi := range f.fields {
		if ev.Has(fi) {
			return true
		}
	}
	return false
}

func (f *fieldMatcher) refsPresent(ev *event.Event) bool {
	if len(f.refs) == 0 {
		return true
	}
	for _, fi := range f.refs {
		for _, v := range ev.Values(fi) {
			if v.Kind != event.Null {
				return true
			}
		}
	}
	return false
}

// anyValue reports whether some value of the field (a list field has several) matches vm.
func (f *fieldMatcher) anyValue(ev *event.Event, vm valueMatcher) bool {
	if f.keyword {
		all := ev.All()
		for i := range all {
			if vm.match(ev, &all[i]) {
				return true
			}
		}
		return false
	}
	for _, fi := range f.fields {
		vals := ev.Values(fi)
		for i := range vals {
			if vm.match(ev, &vals[i]) {
				return true
			}
		}
	}
	return false
}

// compiler turns one rule into a condition tree for one route (whose field mapping it applies).
type compiler struct {
	schema    *event.Schema
	opts      *Options
	route     *route
	path      string
	warnings  *[]string
	logsource sigma.Logsource // of the rule (or filter) being compiled, for field mapping conditions
	limits    RuleLimits
}

func (c *compiler) warnf(format string, args ...any) {
	*c.warnings = append(*c.warnings, fmt.Sprintf(format, args...))
}

// eventFields maps a rule field name to the event fields it reads, registering them.
func (c *compiler) eventFields(name string) []int {
	names := c.eventFieldNames(name)
	out := make([]int, len(names))
	for i, n := range names {
		out[i] = c.schema.Add(n)
		c.schema.ExpectScalar(out[i])
	}
	return out
}

// eventFieldNames maps a rule field name: Options.FieldMap when it answers; else the route's own
// field mappings (Security 4688's Image → NewProcessName), then the field mapping pipelines for
// the rule's logsource (several names are ORed).
func (c *compiler) eventFieldNames(name string) []string {
	if c.opts.FieldMap != nil {
		if mapped := c.opts.FieldMap(name); len(mapped) > 0 {
			return mapped
		}
	}
	if c.route != nil && c.route.src != nil {
		if to, ok := c.route.src.FieldMappings[name]; ok {
			name = to
		}
	}
	return mapField(c.opts.FieldMappings, c.logsource, name)
}

func (c *compiler) errorf(line int, format string, args ...any) error {
	return rules.Errorf(c.path, line, format, args...)
}

// compileRule builds the condition tree of a detection rule, with the filters that apply to it.
func (c *compiler) compileRule(r *rules.Rule, filters []*filter) (node, error) {
	n, err := c.compileDetection(r.Detection, "")
	if err != nil {
		return nil, err
	}
	return c.applyFilters(n, filters)
}

// compileDetection compiles search identifiers and conditions; prefix qualifies the search names
// in explanations (a filter's).
func (c *compiler) compileDetection(d rules.Detection, prefix string) (node, error) {
	searches := map[string]node{}
	var names []string
	for _, s := range d.Searches {
		if _, dup := searches[s.Name]; dup {
			return nil, c.errorf(s.Line, "search identifier %q defined twice", s.Name)
		}
		n, err := c.compileSearch(s)
		if err != nil {
			return nil, err
		}
		searches[s.Name] = &searchNode{name: prefix + s.Name, x: n}
		names = append(names, s.Name)
	}
	var conds orNode
	for _, src := range d.Conditions {
		expr, err := parseCondition(src, c.limits.MaxConditionDepth)
		if err != nil {
			return nil, c.errorf(d.ConditionLine, "%v", err)
		}
		n, err := c.resolveCondition(expr, searches, names)
		if err != nil {
			return nil, c.errorf(d.ConditionLine, "condition %q: %v", src, err)
		}
		conds = append(conds, n)
	}
	if len(conds) == 1 {
		return conds[0], nil
	}
	return conds, nil
}

func (c *compiler) resolveCondition(x condExpr, searches map[string]node, names []string) (node, error) {
	switch x := x.(type) {
	case condIdent:
		n, ok := searches[string(x)]
		if !ok {
			return nil, fmt.Errorf("search identifier %q is not defined", string(x))
		}
		return n, nil
	case condNot:
		n, err := c.resolveCondition(x.x, searches, names)
		if err != nil {
			return nil, err
		}
		return notNode{n}, nil
	case condAnd, condOr:
		var subs []condExpr
		if a, ok := x.(condAnd); ok {
			subs = a
		} else {
			subs = x.(condOr)
		}
		nodes := make([]node, 0, len(subs))
		for _, s := range subs {
			n, err := c.resolveCondition(s, searches, names)
			if err != nil {
				return nil, err
			}
			nodes = append(nodes, n)
		}
		if _, ok := x.(condAnd); ok {
			return andNode(nodes), nil
		}
		return orNode(nodes), nil
	case condOf:
		matched := expandOf(x.target, names)
		if len(matched) == 0 {
			return nil, fmt.Errorf("%q matches no search identifier", x.String())
		}
		nodes := make([]node, len(matched))
		for i, m := range matched {
			nodes[i] = searches[m]
		}
		if len(nodes) == 1 {
			return nodes[0], nil
		}
		if x.all {
			return andNode(nodes), nil
		}
		return orNode(nodes), nil
	}
	return nil, fmt.Errorf("unsupported condition %s", x)
}

func (c *compiler) compileSearch(s rules.Search) (node, error) {
	if s.Keywords != nil {
		var or orNode
		for _, kw := range s.Keywords {
			fm, err := c.compileField(s.Name, kw)
			if err != nil {
				return nil, err
			}
			or = append(or, fm)
		}
		if len(or) == 1 {
			return or[0], nil
		}
		return or, nil
	}
	var or orNode
	for _, m := range s.Maps {
		if len(m) == 0 {
			return nil, c.errorf(s.Line, "search %q holds an empty map", s.Name)
		}
		var and andNode
		for _, spec := range m {
			fm, err := c.compileField(s.Name, spec)
			if err != nil {
				return nil, err
			}
			and = append(and, fm)
		}
		if len(and) == 1 {
			or = append(or, and[0])
		} else {
			or = append(or, and)
		}
	}
	if len(or) == 1 {
		return or[0], nil
	}
	return or, nil
}

// compileField compiles one `field|modifiers: values` entry (Field "" is a keyword search).
func (c *compiler) compileField(search string, spec rules.FieldSpec) (*fieldMatcher, error) {
	label := spec.Field
	if len(spec.Modifiers) > 0 {
		label += "|" + strings.Join(spec.Modifiers, "|")
	}
	fail := func(format string, args ...any) error {
		if spec.Field == "" {
			if label == "" {
				return c.errorf(spec.Line, "search %q: keyword: "+format, append([]any{search}, args...)...)
			}
			return c.errorf(spec.Line, "search %q: keyword %q: "+format, append([]any{search, label}, args...)...)
		}
		return c.errorf(spec.Line, "field %q: "+format, append([]any{label}, args...)...)
	}
	mods, err := parseModifiers(spec.Modifiers)
	if err != nil {
		return nil, fail("%v", err)
	}
	fm := &fieldMatcher{spec: label, search: search, all: mods.all, neq: mods.neq}
	if spec.Field == "" {
		if mods.cmp == "exists" || mods.fieldref {
			return nil, fail("%s needs a field", map[bool]string{true: "fieldref", false: "exists"}[mods.fieldref])
		}
		fm.keyword = true
		c.schema.CollectAll()
	} else {
		fm.fields = c.eventFields(spec.Field)
	}
	if mods.all && len(spec.Values) < 2 {
		return nil, fail("'all' needs a list of at least two values (the specification forbids it on a single value)")
	}
	if mods.cmp == "exists" {
		if len(spec.Values) != 1 || spec.Values[0].Tag != "!!bool" {
			return nil, fail("exists takes true or false")
		}
		fm.kind = fieldExists
		if strings.EqualFold(spec.Values[0].Text, "false") {
			fm.kind = fieldMissing
		}
		return fm, nil
	}
	for _, v := range spec.Values {
		if v.IsNull() {
			switch {
			case len(spec.Values) > 1:
				return nil, fail("null cannot appear in a list of values")
			case fm.keyword:
				return nil, fail("null needs a field")
			case len(spec.Modifiers) == 1 && mods.neq:
				fm.kind = fieldNotNull
			case len(spec.Modifiers) > 0:
				return nil, fail("null takes no modifier but neq")
			default:
				fm.kind = fieldNull
			}
			fm.neq = false
			return fm, nil
		}
		vms, err := c.compileValue(mods, v, fm.keyword, spec.Line)
		if err != nil {
			return nil, fail("%v", err)
		}
		if mods.fieldref {
			for _, vm := range vms {
				fm.refs = append(fm.refs, vm.(*fieldRef).others...)
			}
		}
		switch len(vms) {
		case 0:
			fm.vals = append(fm.vals, never{src: v.Text})
		case 1:
			fm.vals = append(fm.vals, vms[0])
		default:
			// A transformation expanded one value into variants (windash, base64offset, a
			// placeholder with several values): any variant satisfies the value.
			if !c.opts.Reference {
				vms = groupStrings(vms)
			}
			fm.vals = append(fm.vals, anyOf(vms))
		}
	}
	if !mods.all && !c.opts.Reference {
		fm.vals = groupStrings(fm.vals)
	}
	return fm, nil
}

// never is a value that cannot match (a placeholder without configured values).
type never struct{ src string }

func (never) match(*event.Event, *event.Value) bool { return false }
func (n never) String() string                      { return "nothing (" + n.src + ")" }

// anyOf matches when one of several variants (windash, base64offset) matches.
type anyOf []valueMatcher

func (a anyOf) match(ev *event.Event, v *event.Value) bool {
	for _, m := range a {
		if m.match(ev, v) {
			return true
		}
	}
	return false
}

func (a anyOf) String() string {
	s := make([]string, len(a))
	for i, m := range a {
		s[i] = m.String()
	}
	return "any(" + strings.Join(s, ", ") + ")"
}
