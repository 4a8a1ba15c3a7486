package detect

import (
	"unicode/utf8"

	"github.com/vigil-detect/vigil/event"
)

// Explanation says why a rule matched an event, or why not: the logsource entry the event was
// routed by, each search identifier of the condition with its result, and for each field item
// the event field and value that satisfied it and the rule value they matched.
type Explanation struct {
	Matched   bool           `json:"matched"`
	Route     string         `json:"route,omitempty"` // logsource entry ("" for rules without a mapped logsource)
	Condition []string       `json:"condition"`
	Searches  []SearchResult `json:"searches"`
	Filters   []FilterResult `json:"filters,omitempty"`
	Note      string         `json:"note,omitempty"`
}

// SearchResult is one search identifier's outcome.
type SearchResult struct {
	Name    string       `json:"name"`
	Matched bool         `json:"matched"`
	Items   []ItemResult `json:"items"`
}

// ItemResult is one `field|modifiers: values` entry (or keyword) of a search.
type ItemResult struct {
	Item    string       `json:"item"` // as written; "" for a keyword
	Matched bool         `json:"matched"`
	Matches []ValueMatch `json:"matches,omitempty"` // the event values that matched rule values
	// Values are the event's values for presence checks (null, exists) and negations (neq),
	// which match no value in particular; Rule says what the item requires.
	Values []ValueMatch `json:"values,omitempty"`
}

// ValueMatch is an event value that matched a rule value.
type ValueMatch struct {
	Field string `json:"field,omitempty"` // the event field ("" for keyword searches)
	Value string `json:"value"`
	Rule  string `json:"rule_value"` // the compiled rule value (pattern, regex, ...)
}

// FilterResult is a filter rule's outcome: excluded is true when it suppressed the match.
type FilterResult struct {
	Name     string `json:"name"`
	Excluded bool   `json:"excluded"`
}

type ruleVariant struct {
	route  *route
	cond   node
	condID int32
}

// maxExplainValue bounds the event values quoted in explanations.
const maxExplainValue = 256

// Explain evaluates rule ri (an index into Rules) on the decoded event ev, read from topic, and
// says why it matches or not. It allocates: call it for alerts and tools, not per event.
func (e *Engine) Explain(ri int, ev *event.Event, topic string) *Explanation {
	r := e.Rules[ri]
	x := &Explanation{Condition: r.Detection.Conditions}
	var chosen *ruleVariant
	for i := range e.explain[ri] {
		v := &e.explain[ri][i]
		if v.route.src != nil && (!v.route.accepts(topic) || (v.route.cond != nil && !v.route.cond.eval(ev))) {
			continue
		}
		if chosen == nil {
			chosen = v
		}
		if v.cond.eval(ev) {
			chosen = v
			break
		}
	}
	if chosen == nil {
		x.Note = "the event is not of the rule's logsource: no logsource entry serving the rule accepts it"
		return x
	}
	if chosen.route.src != nil {
		x.Route = chosen.route.src.Name
	}
	x.Matched = chosen.cond.eval(ev)
	e.explainNode(chosen.cond, ev, x, map[node]bool{})
	return x
}

// explainNode walks a condition tree, reporting each search identifier and filter once.
func (e *Engine) explainNode(n node, ev *event.Event, x *Explanation, seen map[node]bool) {
	switch n := n.(type) {
	case andNode:
		for _, s := range n {
			e.explainNode(s, ev, x, seen)
		}
	case orNode:
		for _, s := range n {
			e.explainNode(s, ev, x, seen)
		}
	case notNode:
		e.explainNode(n.x, ev, x, seen)
	case *filterNode:
		if !seen[n] {
			seen[n] = true
			x.Filters = append(x.Filters, FilterResult{Name: n.name, Excluded: !n.eval(ev)})
			e.explainNode(n.x, ev, x, seen)
		}
	case *searchNode:
		if !seen[n] {
			seen[n] = true
			sr := SearchResult{Name: n.name, Matched: n.eval(ev)}
			e.explainItems(n.x, ev, &sr)
			x.Searches = append(x.Searches, sr)
		}
	}
}

func (e *Engine) explainItems(n node, ev *event.Event, sr *SearchResult) {
	switch n := n.(type) {
	case andNode:
		for _, s := range n {
			e.explainItems(s, ev, sr)
		}
	case orNode:
		for _, s := range n {
			e.explainItems(s, ev, sr)
		}
	case *fieldMatcher:
		sr.Items = append(sr.Items, e.explainField(n, ev))
	}
}

func (e *Engine) explainField(f *fieldMatcher, ev *event.Event) ItemResult {
	ir := ItemResult{Item: f.spec, Matched: f.eval(ev)}
	if f.kind != fieldValues || f.neq {
		// Presence checks and negations match no value in particular: show what is there.
		for _, fi := range f.fields {
			for _, v := range ev.Values(fi) {
				ir.Values = append(ir.Values, ValueMatch{Field: e.Schema.Name(fi), Value: quoteValue(&v), Rule: f.describe()})
			}
		}
		return ir
	}
	for _, vm := range f.vals {
		if m, ok := e.firstMatch(f, vm, ev); ok {
			ir.Matches = append(ir.Matches, m)
		}
	}
	return ir
}

// describe says what a presence check or negation requires.
func (f *fieldMatcher) describe() string {
	switch f.kind {
	case fieldNull:
		return "null or absent"
	case fieldNotNull:
		return "not null"
	case fieldExists:
		return "present"
	case fieldMissing:
		return "absent"
	}
	s := "none of:"
	if f.all {
		s = "not all of:"
	}
	for _, vm := range f.vals {
		s += " " + vm.String()
	}
	return s
}

// firstMatch finds the first event value of f that vm matches.
func (e *Engine) firstMatch(f *fieldMatcher, vm valueMatcher, ev *event.Event) (ValueMatch, bool) {
	rule := vm.String()
	var subs []valueMatcher
	switch a := vm.(type) {
	case anyOf:
		subs = a
	case *stringSet:
		for _, m := range a.all {
			subs = append(subs, m)
		}
	}
	if subs != nil {
		for _, sub := range subs {
			if m, ok := e.firstMatch(f, sub, ev); ok {
				return m, true
			}
		}
		return ValueMatch{}, false
	}
	if f.keyword {
		all := ev.All()
		for i := range all {
			if vm.match(ev, &all[i]) {
				return ValueMatch{Value: quoteValue(&all[i]), Rule: rule}, true
			}
		}
		return ValueMatch{}, false
	}
	for _, fi := range f.fields {
		vals := ev.Values(fi)
		for i := range vals {
			if vm.match(ev, &vals[i]) {
				return ValueMatch{Field: e.Schema.Name(fi), Value: quoteValue(&vals[i]), Rule: rule}, true
			}
		}
	}
	return ValueMatch{}, false
}

func quoteValue(v *event.Value) string {
	if v.Kind == event.Null {
		return "null"
	}
	s := string(v.Raw)
	if len(s) <= maxExplainValue {
		return s
	}
	cut := maxExplainValue
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}
