package detect

import (
	"fmt"
	"strings"

	sigma "github.com/bradleyjkemp/sigma-go"

	"github.com/vigil-detect/vigil/event"
	"github.com/vigil-detect/vigil/rules"
)

// Sigma filter rules (the filters specification, v2.0.0) tune many rules in one place: a filter
// names rules (by id or name, or `any`), a logsource, search identifiers and a condition, and the
// rules it applies to stop matching the events the filter describes. Vigil compiles each filter
// into the condition of every rule it applies to:
//
//	(rule condition) and not (filter condition)
//
// The specification's example writes the condition positively (`condition: selection` with
// `selection: {User|startswith: adm_}` excludes the adm_ accounts). pySigma instead ANDs the
// filter's condition as written, so its filters say which events to keep (`condition: not
// selection`). Both forms mean the same exclusion in Vigil: a condition that is a negation, or a
// conjunction of negations, is taken in pySigma's sense and ANDed as written.

// filter is a filter rule ready to be applied.
type filter struct {
	*rules.Filter
	expr condExpr
	keep bool // the condition says which events to keep (pySigma's form)
	used bool
}

// label names a filter in explanations and warnings.
func (f *filter) label() string {
	if f.ID != "" {
		return f.ID
	}
	if f.Name != "" {
		return f.Name
	}
	return f.Title
}

// prepareFilters parses every filter's condition and compiles it once, to report its errors
// once (with its file and line) rather than with every rule it applies to.
func (e *Engine) prepareFilters(fs []*rules.Filter, opts *Options) []*filter {
	var out []*filter
	for _, rf := range fs {
		d := rf.Detection
		if len(d.Conditions) != 1 {
			e.Errors = append(e.Errors, rules.Errorf(rf.Path, rf.Line, "filter %q needs exactly one condition", rf.Title))
			continue
		}
		expr, err := parseCondition(d.Conditions[0], opts.RuleLimits.withDefaults().MaxConditionDepth)
		if err != nil {
			e.Errors = append(e.Errors, rules.Errorf(rf.Path, d.ConditionLine, "filter %q: %v", rf.Title, err))
			continue
		}
		c := &compiler{schema: e.Schema, opts: opts, path: rf.Path, warnings: &e.Warnings, logsource: rf.Logsource, limits: opts.RuleLimits.withDefaults()}
		if _, err := c.compileDetection(d, ""); err != nil {
			e.Errors = append(e.Errors, fmt.Errorf("filter %q: %w", rf.Title, err))
			continue
		}
		out = append(out, &filter{Filter: rf, expr: expr, keep: keepsEvents(expr)})
	}
	return out
}

// keepsEvents reports whether a filter condition is written in pySigma's sense: a negation, or
// a conjunction of negations.
func keepsEvents(x condExpr) bool {
	switch x := x.(type) {
	case condNot:
		return true
	case condAnd:
		for _, s := range x {
			if _, ok := s.(condNot); !ok {
				return false
			}
		}
		return true
	}
	return false
}

// filtersFor returns the filters applying to r: those naming it (by id or name) or `any` rule,
// whose logsource covers the rule's (every attribute the filter names is the rule's too).
func (e *Engine) filtersFor(r *rules.Rule, fs []*filter) []*filter {
	var out []*filter
	for _, f := range fs {
		named := f.AllRules
		for _, ref := range f.Rules {
			named = named || (r.ID != "" && ref == r.ID) || (r.Name != "" && ref == r.Name)
		}
		if !named {
			continue
		}
		if !logsourceCovers(f.Logsource, r.Logsource) {
			if !f.AllRules {
				e.Warnings = append(e.Warnings, fmt.Sprintf("%s:%d: filter %q names rule %q (%s), whose logsource %s is outside the filter's %s: not applied",
					f.Path, f.Line, f.Title, r.Title, r.Path,
					logsourceString(r.Logsource.Category, r.Logsource.Product, r.Logsource.Service),
					logsourceString(f.Logsource.Category, f.Logsource.Product, f.Logsource.Service)))
			}
			continue
		}
		f.used = true
		out = append(out, f)
	}
	return out
}

// logsourceCovers reports whether every attribute outer names is inner's too (case-insensitive).
func logsourceCovers(outer, inner sigma.Logsource) bool {
	eq := func(o, i string) bool { return o == "" || strings.EqualFold(o, i) }
	return eq(outer.Category, inner.Category) && eq(outer.Product, inner.Product) && eq(outer.Service, inner.Service)
}

// warnUnusedFilters reports filters that name rules none of which was compiled.
func (e *Engine) warnUnusedFilters(fs []*filter) {
	for _, f := range fs {
		if !f.used {
			refs := strings.Join(f.Rules, ", ")
			if f.AllRules {
				refs = "any"
			}
			e.Warnings = append(e.Warnings, fmt.Sprintf("%s:%d: filter %q applies to no loaded rule (rules: %s)",
				f.Path, f.Line, f.Title, refs))
		}
	}
}

// applyFilters ANDs the filters into a rule's condition tree. The filters' searches are compiled
// with the rule's field mapping, under names qualified by the filter.
func (c *compiler) applyFilters(n node, fs []*filter) (node, error) {
	if len(fs) == 0 {
		return n, nil
	}
	and := andNode{n}
	for _, f := range fs {
		fc := *c
		fc.path = f.Path
		fn, err := fc.compileDetection(f.Detection, "filter "+f.label()+": ")
		if err != nil {
			return nil, fmt.Errorf("filter %q: %w", f.Title, err)
		}
		if f.keep {
			and = append(and, &filterNode{name: f.label(), x: fn})
		} else {
			and = append(and, &filterNode{name: f.label(), x: notNode{fn}})
		}
	}
	return and, nil
}

// filterNode is a filter's part of a rule's condition; the name serves explain.
type filterNode struct {
	name string
	x    node
}

func (n *filterNode) eval(ev *event.Event) bool { return n.x.eval(ev) }
