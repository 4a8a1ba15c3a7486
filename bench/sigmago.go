package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/bradleyjkemp/sigma-go"
	"github.com/bradleyjkemp/sigma-go/evaluator"

	"github.com/vigil-detect/vigil/detect"
	"github.com/vigil-detect/vigil/pipeline"
	"github.com/vigil-detect/vigil/rules"
)

// sigmaGo runs sigma-go v0.6.6's own evaluator (package evaluator, one RuleEvaluator per rule)
// on the same events, the way a map-based engine built on it would: each event parsed with
// encoding/json into a map, routed with the same logsource table as Vigil (its conditions
// evaluated by sigma-go too), then every rule of the event's logsources evaluated. Field
// mappings of the routing table are not applied (none concerns the generated lanes).
type sigmaGo struct {
	info    SigmaGoInfo
	rules   []*sgRule
	sources []sgSource
	globals []sgGlobal // rules whose logsource no entry serves, by product
	stamp   []uint32   // per rule: the event it was last evaluated on (dedupe across sources)
	event   uint32
	dead    map[*sgRule]bool
	erred   map[*sgRule]bool
}

type sgRule struct {
	eval  *evaluator.RuleEvaluator
	index int
	path  string
}

type sgSource struct {
	product string
	cond    *evaluator.RuleEvaluator // nil: every event
	rules   []*sgRule
}

type sgGlobal struct {
	product string
	rules   []*sgRule
}

// newSigmaGo parses the files of the loaded detection rules with sigma-go (it reads the first
// YAML document of a file only).
func newSigmaGo(set *rules.Set, sources []detect.Logsource, noRouting bool) (*sigmaGo, error) {
	sg := &sigmaGo{dead: map[*sgRule]bool{}, erred: map[*sgRule]bool{}}
	if noRouting {
		sources = nil
	}
	for _, ls := range sources {
		src := sgSource{product: strings.ToLower(ls.Product)}
		if len(ls.Conditions.Maps) > 0 || len(ls.Conditions.Keywords) > 0 {
			src.cond = evaluator.ForRule(sigma.Rule{
				Title: ls.Name,
				Detection: sigma.Detection{
					Searches:   map[string]sigma.Search{"source": toSigmaSearch(ls.Conditions)},
					Conditions: sigma.Conditions{{Search: sigma.SearchIdentifier{Name: "source"}}},
				},
			})
		}
		sg.sources = append(sg.sources, src)
	}
	seen := map[string]bool{}
	globals := map[string]int{}
	starter := rules.Starter()
	for _, r := range set.Rules {
		if seen[r.Path] {
			continue
		}
		seen[r.Path] = true
		sg.info.Files++
		var data []byte
		var err error
		if name, ok := strings.CutPrefix(r.Path, rules.StarterPrefix); ok {
			data, err = fs.ReadFile(starter, name)
		} else {
			data, err = os.ReadFile(r.Path)
		}
		if err != nil {
			return nil, err
		}
		parsed, err := sigma.ParseRule(data)
		if err != nil {
			sg.info.ParseErrors++
			sg.example(fmt.Sprintf("%s: %v", r.Path, err))
			continue
		}
		if hasAggregation(parsed) {
			sg.info.Aggregation++
			continue
		}
		rule := &sgRule{eval: evaluator.ForRule(parsed), index: len(sg.rules), path: r.Path}
		sg.rules = append(sg.rules, rule)
		served := false
		for i, ls := range sources {
			if serves(ls, parsed.Logsource) {
				sg.sources[i].rules = append(sg.sources[i].rules, rule)
				served = true
			}
		}
		if !served {
			p := strings.ToLower(parsed.Logsource.Product)
			gi, ok := globals[p]
			if !ok {
				gi = len(sg.globals)
				globals[p] = gi
				sg.globals = append(sg.globals, sgGlobal{product: p})
			}
			sg.globals[gi].rules = append(sg.globals[gi].rules, rule)
		}
	}
	sg.info.Parsed = len(sg.rules)
	sg.stamp = make([]uint32, len(sg.rules))
	return sg, nil
}

func (sg *sigmaGo) example(s string) {
	if len(sg.info.Examples) < 5 {
		sg.info.Examples = append(sg.info.Examples, s)
	}
}

// serves mirrors Vigil's routing: every logsource attribute a rule names must be the entry's.
func serves(ls detect.Logsource, want sigma.Logsource) bool {
	eq := func(rule, mine string) bool { return rule == "" || strings.EqualFold(rule, mine) }
	return eq(want.Category, ls.Category) && eq(want.Product, ls.Product) && eq(want.Service, ls.Service)
}

func hasAggregation(r sigma.Rule) bool {
	for _, c := range r.Detection.Conditions {
		if c.Aggregation != nil {
			return true
		}
	}
	return false
}

// toSigmaSearch converts a routing condition to sigma-go's form.
func toSigmaSearch(s rules.Search) sigma.Search {
	var out sigma.Search
	for _, k := range s.Keywords {
		for _, v := range k.Values {
			out.Keywords = append(out.Keywords, v.Text)
		}
	}
	for _, m := range s.Maps {
		var em sigma.EventMatcher
		for _, f := range m {
			fm := sigma.FieldMatcher{Field: f.Field, Modifiers: f.Modifiers}
			for _, v := range f.Values {
				fm.Values = append(fm.Values, scalarValue(v))
			}
			em = append(em, fm)
		}
		out.EventMatchers = append(out.EventMatchers, em)
	}
	return out
}

func scalarValue(v rules.Scalar) any {
	switch v.Tag {
	case "!!null":
		return nil
	case "!!int":
		if n, err := strconv.Atoi(v.Text); err == nil {
			return n
		}
	case "!!bool":
		return v.Text == "true"
	}
	return v.Text
}

// match evaluates one event; it returns the matches and the evaluation errors.
func (sg *sigmaGo) match(ctx context.Context, raw []byte) (matches, errs int, ok bool) {
	var ev map[string]any
	if json.Unmarshal(raw, &ev) != nil {
		return 0, 0, false
	}
	sg.event++
	var products []string
	matched := 0
	for i := range sg.sources {
		src := &sg.sources[i]
		if src.cond != nil {
			res, err := src.cond.Matches(ctx, ev)
			if err != nil || !res.Match {
				continue
			}
		}
		matched++
		if !contains(products, src.product) {
			products = append(products, src.product)
		}
		m, e := sg.evalAll(ctx, src.rules, ev)
		matches, errs = matches+m, errs+e
	}
	for _, g := range sg.globals {
		if matched == 0 || g.product == "" || contains(products, g.product) {
			m, e := sg.evalAll(ctx, g.rules, ev)
			matches, errs = matches+m, errs+e
		}
	}
	return matches, errs, true
}

func (sg *sigmaGo) evalAll(ctx context.Context, rs []*sgRule, ev map[string]any) (matches, errs int) {
	for _, r := range rs {
		if sg.stamp[r.index] == sg.event || sg.dead[r] {
			continue
		}
		sg.stamp[r.index] = sg.event
		match, err := sg.eval(ctx, r, ev)
		if err != nil {
			errs++
			if !sg.erred[r] {
				sg.erred[r] = true
				sg.example(fmt.Sprintf("%s: %v", r.path, err))
			}
			continue
		}
		if match {
			matches++
		}
	}
	return matches, errs
}

// eval runs one rule, turning a panic of the evaluator into a dropped rule.
func (sg *sigmaGo) eval(ctx context.Context, r *sgRule, ev map[string]any) (match bool, err error) {
	defer func() {
		if p := recover(); p != nil {
			sg.dead[r] = true
			match, err = false, fmt.Errorf("panic: %v", p)
		}
	}()
	res, err := r.eval.Matches(ctx, ev)
	return res.Match, err
}

// run evaluates events of l in order, every one timed, until d has passed (at least one
// event); then Vigil matches the same events for comparison.
func (sg *sigmaGo) run(ctx context.Context, rs *pipeline.Ruleset, l *lane, d time.Duration) Result {
	var lp loop
	var evalErrs int64
	var ms0, ms1 runtime.MemStats
	runtime.ReadMemStats(&ms0)
	start := time.Now()
	deadline := start.Add(d)
	for i := 0; ; i = (i + 1) % l.len() {
		ev := l.event(i)
		t := time.Now()
		m, e, ok := sg.match(ctx, ev)
		now := time.Now()
		lp.lat.add(now.Sub(t))
		evalErrs += int64(e)
		if !ok {
			m = -1
		}
		lp.count(ev, m)
		if now.After(deadline) || ctx.Err() != nil {
			break
		}
	}
	elapsed := time.Since(start)
	runtime.ReadMemStats(&ms1)

	vm := rs.Detect.NewMatcher()
	var vigil int64
	for k := range lp.events {
		if hits, err := vm.Match(l.event(int(k) % l.len())); err == nil {
			vigil += int64(len(hits))
		}
	}
	res := lp.result(elapsed, ms1.Mallocs-ms0.Mallocs, "every event")
	res.SigmaGo = &SGRun{VigilAlerts: vigil, EvalErrors: evalErrs}
	return res
}

// finish records the rules that failed.
func (sg *sigmaGo) finish() {
	sg.info.EvalErrors = len(sg.erred)
	sg.info.Panics = len(sg.dead)
}
