// Package detect compiles Sigma detection rules into matchers and runs them over events.
//
// Rules are parsed by package rules (with sigma-go) and compiled here into condition trees of
// specialised value matchers. Each rule runs only on the events of its logsource (routing), and a
// candidate index skips the rules whose required literals an event does not contain, so that
// most rules are never evaluated; for each kind of event seen often, a copy of the index narrowed
// to that kind's rules is built in the background (narrow.go). A Matcher, one per goroutine,
// evaluates events without allocating.
package detect

import (
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"time"

	sigma "github.com/bradleyjkemp/sigma-go"

	"github.com/vigil-detect/vigil/event"
	"github.com/vigil-detect/vigil/rules"
)

// Options control compilation.
type Options struct {
	// Logsources is the routing table; nil means BuiltinLogsources. Entries are tried in order.
	Logsources []Logsource
	// NoRouting runs every rule on every event, ignoring logsources.
	NoRouting bool
	// FieldMappings are field mapping pipelines (see FieldMapping), applied in order to the
	// fields rules and routing conditions name. Their vars are placeholder values (Placeholders
	// take precedence).
	FieldMappings []*FieldMapping
	// FieldMap, when it returns names for a rule field, overrides every other mapping: the
	// event field(s) holding it (several are ORed).
	FieldMap func(field string) []string
	// Placeholders gives the values of %name% placeholders for the expand modifier.
	Placeholders map[string][]string
	// Filters are Sigma filter rules, applied to the rules they name (see filter.go).
	Filters []*rules.Filter
	// Reference evaluates every routed rule the plain way: no candidate index, no shared routes,
	// no grouped values, no regular-expression shortcuts, no packed layout. Slow; for proving
	// the optimisations change no result.
	Reference bool
	// Schema receives the fields rules reference; nil creates one. Sharing it lets other stages
	// (correlation, entities) read their fields from the same decoded event.
	Schema *event.Schema
	// Limits bound accepted events.
	Limits event.Limits
	// RuleLimits bound what one rule may ask (regular expression size, value expansion,
	// condition nesting).
	RuleLimits RuleLimits
}

// Rule is a compiled detection rule.
type Rule struct {
	*rules.Rule
	Index   int      // position in Engine.Rules
	Routes  []string // logsource entries it runs on; empty: every event
	Filters []string // filter rules applied to it (id, else name, else title)
}

// Engine is an immutable compiled rule set, shared by all Matchers.
type Engine struct {
	Schema   *event.Schema
	Rules    []*Rule
	Errors   []error  // rules that did not compile (they are left out)
	Warnings []string // compiled, but worth a look

	limits        event.Limits
	live          *routeTable     // routes with rules
	idle          *routeTable     // routes without rules, when globals need event products
	globals       []*route        // rules without a mapped logsource, one route per product
	globalsScoped bool            // some global route runs only on some events (by product or recognition)
	multis        []*route        // rules sharing one condition over several routes
	routes        []*route        // every route with rules; route.id is its position
	index         *index          // the candidate index over all of them
	conditions    int             // distinct compiled conditions
	explain       [][]ruleVariant // per rule, its routes and compiled conditions (for Explain)
	noValueCache  bool            // new matchers start with the value cache off
}

type route struct {
	src     *Logsource // nil: a route of rules without a mapped logsource
	product string     // lower case: the entry's product, or the product the unmapped rules name
	// unrecognisedOnly: unmapped rules naming no product but a category or service; they run
	// only on events no entry recognised.
	unrecognisedOnly bool
	topics           []string            // only records from these topics; none: any record
	cond             node                // nil: every event
	pins             map[string][]string // event field → the folded values cond requires it to equal
	pinned           bool                // pins are all of cond
	variants         []variant
	members          []*route // a multi-route: it runs when any of these routes does
	multis           []int    // the multi-routes (positions in Engine.multis) this route is a member of
	globals          []*route // the global routes that run on events of its product
	id               int32    // position in Engine.routes
	always           []int32  // variants evaluated on every event of the route (the index cannot skip them)
	fields           []int32  // index fields (positions in index.fields) its variants' clauses read
	checks           []int32  // field checks (positions in index.checks) its variants' clauses use
	keywords         bool     // its variants' clauses search every value of the event
	apartFields      []int32  // what of fields a keyword pass leaves to scan: the apartValues index, if there
	fieldSet         map[int]bool
}

type variant struct {
	rule   int32
	condID int32 // variants of one rule sharing a compiled condition share its id
	cond   node
}

// Compile compiles rules; a rule that fails is reported in Engine.Errors and left out.
func Compile(rs []*rules.Rule, opts Options) *Engine {
	e := compile(rs, opts)
	if !opts.Reference {
		e.pack()
	}
	return e
}

func compile(rs []*rules.Rule, opts Options) *Engine {
	e := &Engine{Schema: opts.Schema, limits: opts.Limits}
	if e.Schema == nil {
		e.Schema = event.NewSchema()
	}
	opts.Placeholders = mergePlaceholders(opts.FieldMappings, opts.Placeholders)
	srcs := opts.Logsources
	if srcs == nil && !opts.NoRouting {
		srcs = BuiltinLogsources()
	}
	if opts.NoRouting {
		srcs = nil
	}
	globals := map[string]*route{}
	var routes []*route
	for i := range srcs {
		r := &route{src: &srcs[i], product: strings.ToLower(srcs[i].Product), topics: srcs[i].Topics}
		if len(srcs[i].Conditions.Maps) > 0 || srcs[i].Conditions.Keywords != nil {
			// Routing conditions name fields as rules do (Channel, EventID): the pipelines map
			// them too, for the entry's own logsource.
			ls := srcs[i].logsource()
			c := &compiler{schema: e.Schema, opts: &Options{FieldMappings: opts.FieldMappings}, path: srcs[i].Path, warnings: &e.Warnings, logsource: ls, limits: opts.RuleLimits.withDefaults()}
			n, err := c.compileSearch(srcs[i].Conditions)
			if err != nil {
				e.Errors = append(e.Errors, fmt.Errorf("logsource %s: %w", srcs[i].Name, err))
				continue
			}
			r.cond = n
			r.pins, r.pinned = srcs[i].pins(func(f string) []string { return mapField(opts.FieldMappings, ls, f) })
		}
		routes = append(routes, r)
	}

	filters := e.prepareFilters(opts.Filters, &opts)
	condID := int32(-1)
	multis := map[string]*route{}
	for _, rr := range rs {
		applied := e.filtersFor(rr, filters)
		var targets []*route
		for _, r := range routes {
			if r.src.serves(rr.Logsource) {
				targets = append(targets, r)
			}
		}
		if len(targets) == 0 {
			g, runsOn := globalRoute(globals, rr.Logsource)
			targets = []*route{g}
			if len(routes) > 0 {
				e.Warnings = append(e.Warnings, fmt.Sprintf("%s: logsource %s has no mapping; the rule runs on %s",
					rr.Path, logsourceString(rr.Logsource.Category, rr.Logsource.Product, rr.Logsource.Service), runsOn))
			}
		}
		explained := targets
		if len(targets) > 1 && !opts.Reference && !usesMappedField(rr, targets) {
			targets = []*route{multiRoute(multis, targets)}
		}
		idx := int32(len(e.Rules))
		var conds []node
		var condIDs []int32
		var names []string
		var failed error
		shared := map[string]node{} // compiled once per distinct field mapping
		for _, r := range targets {
			key := ""
			if r.src != nil {
				key = mappingKey(r.src.FieldMappings)
			}
			n, ok := shared[key]
			if !ok {
				condID++
				c := &compiler{schema: e.Schema, opts: &opts, route: r, path: rr.Path, warnings: &e.Warnings, logsource: rr.Logsource, limits: opts.RuleLimits.withDefaults()}
				var err error
				if n, err = c.compileRule(rr, applied); err != nil {
					failed = err
					break
				}
				shared[key] = n
			}
			conds = append(conds, n)
			condIDs = append(condIDs, condID)
			if r.src != nil {
				names = append(names, r.src.Name)
			}
			for _, m := range r.members {
				names = append(names, m.src.Name)
			}
		}
		if failed != nil {
			e.Errors = append(e.Errors, failed)
			continue
		}
		for i, r := range targets {
			r.variants = append(r.variants, variant{rule: idx, condID: condIDs[i], cond: conds[i]})
		}
		var filterNames []string
		for _, f := range applied {
			filterNames = append(filterNames, f.label())
		}
		e.Rules = append(e.Rules, &Rule{Rule: rr, Index: int(idx), Routes: names, Filters: filterNames})
		rv := make([]ruleVariant, len(explained))
		for i, r := range explained {
			j := min(i, len(conds)-1)
			rv[i] = ruleVariant{route: r, cond: conds[j], condID: condIDs[j]}
		}
		e.explain = append(e.explain, rv)
	}

	e.warnUnusedFilters(filters)
	e.Warnings = dedupe(e.Warnings) // a rule compiled for several routes warns once

	for _, p := range slices.Sorted(maps.Keys(globals)) {
		routes = append(routes, globals[p])
	}
	for _, k := range slices.Sorted(maps.Keys(multis)) {
		routes = append(routes, multis[k])
	}
	e.conditions = int(condID + 1)
	e.buildRoutes(routes, opts.Reference)
	return e
}

// globalRoute returns the route of rules whose logsource no entry serves, and which events it
// runs on. Such a rule naming a product runs on that product's events; one naming no product
// but a category or service (webserver, apache) only on events no entry recognised: an event an
// entry recognised is of that entry's kind, which the rule's unmapped one is not.
func globalRoute(globals map[string]*route, ls sigma.Logsource) (*route, string) {
	product := strings.ToLower(ls.Product)
	unrecognisedOnly := product == "" && (ls.Category != "" || ls.Service != "")
	key := product // globals are keyed by product; no product name holds a NUL
	if unrecognisedOnly {
		key = "\x00unrecognised"
	}
	g := globals[key]
	if g == nil {
		g = &route{product: product, unrecognisedOnly: unrecognisedOnly}
		globals[key] = g
	}
	switch {
	case unrecognisedOnly:
		return g, "events no logsource entry recognises"
	case product != "":
		return g, product + " events and events no logsource entry recognises"
	}
	return g, "every event"
}

// usesMappedField reports whether a rule reads a field that one of its routes renames: such a
// rule needs one compiled variant per mapping.
func usesMappedField(r *rules.Rule, routes []*route) bool {
	for _, s := range r.Detection.Searches {
		for _, m := range s.Maps {
			for _, f := range m {
				for _, rt := range routes {
					if _, ok := rt.src.FieldMappings[f.Field]; ok {
						return true
					}
				}
			}
		}
	}
	return false
}

// multiRoute returns the shared route of the rules that run on every route in members with the
// same condition (e.g. rules naming only "product: windows"): it runs once per event that any
// member matched, so its rules are tried and its fields scanned once, not once per member.
func multiRoute(multis map[string]*route, members []*route) *route {
	names := make([]string, len(members))
	for i, m := range members {
		names[i] = m.src.Name
	}
	key := strings.Join(names, "\x00")
	r := multis[key]
	if r == nil {
		r = &route{members: members, product: members[0].product}
		for _, m := range members {
			if m.product != r.product {
				r.product = "" // of several products
			}
		}
		multis[key] = r
	}
	return r
}

// dedupe drops repeated strings, keeping the first of each.
func dedupe(ss []string) []string {
	seen := make(map[string]bool, len(ss))
	out := ss[:0]
	for _, s := range ss {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

// mergePlaceholders adds the pipelines' vars to the configured placeholders (which win).
func mergePlaceholders(ps []*FieldMapping, configured map[string][]string) map[string][]string {
	out := map[string][]string{}
	for _, p := range ps {
		for k, v := range p.Vars {
			out[k] = v
		}
	}
	for k, v := range configured {
		out[k] = v
	}
	return out
}

func logsourceString(cat, prod, svc string) string {
	var parts []string
	for _, kv := range [][2]string{{"category", cat}, {"product", prod}, {"service", svc}} {
		if kv[1] != "" {
			parts = append(parts, kv[0]+"="+kv[1])
		}
	}
	if len(parts) == 0 {
		return "(empty)"
	}
	return "(" + strings.Join(parts, ", ") + ")"
}

func mappingKey(m map[string]string) string {
	if len(m) == 0 {
		return ""
	}
	keys := make([]string, 0, len(m))
	for k, v := range m {
		keys = append(keys, k+"\x00"+v)
	}
	sort.Strings(keys)
	return strings.Join(keys, "\x01")
}

// routeTable finds the routes whose conditions an event meets. Routes pinned to values of one
// field (Channel, then EventID within a channel) are found by map lookups, nested as deep as it
// pays; the rest have their conditions checked on every event.
type routeTable struct {
	always []*route // conditions checked on every event
	// implied: the dispatch that led here already checked all of always[i]'s condition
	implied  []bool
	field    int // the event field dispatch is keyed on (-1: none)
	name     string
	dispatch map[string]*routeTable
}

// collect appends to out the routes of t that accept the event read from topic.
func (t *routeTable) collect(ev *event.Event, topic string, out []*route) []*route {
	for i, r := range t.always {
		if r.accepts(topic) && (r.cond == nil || t.implied[i] || r.cond.eval(ev)) {
			out = append(out, r)
		}
	}
	if t.dispatch != nil {
		for _, v := range ev.Values(t.field) {
			if sub := t.dispatch[string(v.Lower)]; sub != nil {
				out = sub.collect(ev, topic, out)
			}
		}
	}
	return out
}

// minDispatch is the fewest routes worth a dispatch level.
const minDispatch = 2

// buildRouteTable arranges routes into a table, keying it on the field that pins the most of
// them (fields already used above are skipped).
func (e *Engine) buildRouteTable(routes []*route, used []string) *routeTable {
	t := &routeTable{field: -1}
	counts := map[string]int{}
	for _, r := range routes {
		for f := range r.pins {
			if !slices.Contains(used, f) {
				counts[f]++
			}
		}
	}
	best, bestN := "", minDispatch-1
	for f, n := range counts {
		if n > bestN || (n == bestN && f < best) {
			best, bestN = f, n
		}
	}
	if best == "" {
		t.always = routes
		t.implied = impliedBy(routes, used)
		return t
	}
	t.field, t.name = e.Schema.Add(best), best
	byKey := map[string][]*route{}
	var keys []string
	for _, r := range routes {
		vals, ok := r.pins[best]
		if !ok {
			t.always = append(t.always, r)
			continue
		}
		for _, k := range vals {
			if _, seen := byKey[k]; !seen {
				keys = append(keys, k)
			}
			byKey[k] = append(byKey[k], r)
		}
	}
	t.implied = impliedBy(t.always, used)
	t.dispatch = map[string]*routeTable{}
	for _, k := range keys {
		t.dispatch[k] = e.buildRouteTable(byKey[k], append(used[:len(used):len(used)], best))
	}
	return t
}

// impliedBy reports, for each route, whether dispatching on the fields used, which found it
// under one of its pinned values for each, checked all of its condition.
func impliedBy(routes []*route, used []string) []bool {
	out := make([]bool, len(routes))
	for i, r := range routes {
		out[i] = r.pinned
		for f := range r.pins {
			out[i] = out[i] && slices.Contains(used, f)
		}
	}
	return out
}

// buildRoutes builds the indexes of the routes with rules, the tables that find them, and the
// table of routes without rules (which still tell an event's product: see MatchDecodedTopic).
func (e *Engine) buildRoutes(all []*route, noIndex bool) {
	// A route whose own rules all went to multi-routes still finds events for them.
	inMulti := map[*route]bool{}
	for _, r := range all {
		if len(r.variants) > 0 {
			for _, m := range r.members {
				inMulti[m] = true
			}
		}
	}
	var live, idle []*route
	for _, r := range all {
		if len(r.variants) == 0 && !inMulti[r] {
			if r.src != nil {
				idle = append(idle, r)
			}
			continue
		}
		r.id = int32(len(e.routes))
		e.routes = append(e.routes, r)
		if len(r.members) > 0 {
			for _, m := range r.members {
				m.multis = append(m.multis, len(e.multis))
			}
			e.multis = append(e.multis, r)
			continue
		}
		live = append(live, r)
	}
	e.index = buildIndex(e.routes, noIndex)
	var routed []*route
	for _, r := range live {
		if r.src == nil {
			e.globals = append(e.globals, r)
			if r.product != "" || r.unrecognisedOnly {
				e.globalsScoped = true
			}
			continue
		}
		routed = append(routed, r)
	}
	e.live = e.buildRouteTable(routed, nil)
	e.idle = &routeTable{field: -1}
	if e.globalsScoped {
		e.idle = e.buildRouteTable(idle, nil)
	}
	for _, r := range slices.Concat(routed, idle) {
		r.globals = nil
		for _, g := range e.globals {
			if !g.unrecognisedOnly && (g.product == "" || g.product == r.product) {
				r.globals = append(r.globals, g)
			}
		}
	}
}

// Matcher evaluates events against an Engine. It is not safe for concurrent use: give each
// goroutine its own.
type Matcher struct {
	eng      *Engine
	Event    event.Event
	scratch  scratch
	matched  bitset // rules matched by this event
	tried    bitset // conditions evaluated on this event
	triedIDs []int32
	out      []int
	routes   []*route // routes whose conditions the event meets
	idle     []*route
	active   []*route // those, their multi-routes and the applicable global routes
	routeOn  bitset   // active, by route id
	products []string

	// Cost sampling: every sampleEvery-th event, each rule evaluation is timed.
	sampleEvery int
	sampleLeft  int
	sampling    bool
	costs       []RuleCost
}

// NewMatcher returns a Matcher for e.
func (e *Engine) NewMatcher() *Matcher {
	m := &Matcher{
		eng:     e,
		scratch: newScratch(e.index),
		matched: make(bitset, (len(e.Rules)+63)/64),
		tried:   make(bitset, (e.conditions+63)/64),
		routeOn: make(bitset, (len(e.routes)+63)/64),
	}
	m.scratch.noCache = e.noValueCache
	return m
}

// CacheValues turns the value cache on (the default) or off (see valuecache.go). Off, every
// value is scanned: for benchmarks that replay a few events, whose values would all recur.
func (m *Matcher) CacheValues(on bool) { m.scratch.noCache = !on }

// CacheValues sets whether matchers created from now on use the value cache (by default they
// do). Call it before the engine is shared.
func (e *Engine) CacheValues(on bool) { e.noValueCache = !on }

// ValueCacheStats returns how many values the matcher looked up in its value cache, and found.
func (m *Matcher) ValueCacheStats() (lookups, hits uint64) {
	for _, c := range m.scratch.caches {
		lookups += c.lookups
		hits += c.hits
	}
	return lookups, hits
}

// RuleCost is the sampled evaluation cost of one rule.
type RuleCost struct {
	Evals int64
	Nanos int64
}

// SampleCosts makes the matcher time every rule evaluation of one event in every n (0 stops).
func (m *Matcher) SampleCosts(n int) {
	m.sampleEvery, m.sampleLeft = n, n
	if n > 0 && m.costs == nil {
		m.costs = make([]RuleCost, len(m.eng.Rules))
	}
}

// TakeCosts adds the sampled costs per rule (indexed like Engine.Rules) to dst and resets them.
func (m *Matcher) TakeCosts(dst []RuleCost) {
	for i := range m.costs {
		if i < len(dst) {
			dst[i].Evals += m.costs[i].Evals
			dst[i].Nanos += m.costs[i].Nanos
		}
		m.costs[i] = RuleCost{}
	}
}

// WaitNarrowing waits for the narrowed indexes being built (see narrow.go) to be ready: for
// benchmarks, which time the steady state.
func (e *Engine) WaitNarrowing() { e.index.narrow.building.Wait() }

// Engine returns the engine the matcher evaluates.
func (m *Matcher) Engine() *Engine { return m.eng }

// Match decodes raw and returns the indexes (into Engine.Rules, ascending) of the rules it
// matches. The result and m.Event stay valid until the next call. The record has no topic:
// logsource entries restricted to topics do not apply (see MatchTopic).
func (m *Matcher) Match(raw []byte) ([]int, error) {
	return m.MatchTopic("", raw)
}

// MatchTopic is Match for a record read from a Kafka topic: logsource entries restricted to
// topics apply only to records of those topics.
func (m *Matcher) MatchTopic(topic string, raw []byte) ([]int, error) {
	if err := m.eng.Schema.Decode(raw, &m.Event, m.eng.limits); err != nil {
		return nil, err
	}
	return m.MatchDecodedTopic(topic), nil
}

// MatchDecoded evaluates the already decoded m.Event (a record without a topic).
func (m *Matcher) MatchDecoded() []int { return m.MatchDecodedTopic("") }

// accepts reports whether a record of topic may be routed to r.
func (r *route) accepts(topic string) bool {
	if len(r.topics) == 0 {
		return true
	}
	for _, t := range r.topics {
		if t == topic {
			return true
		}
	}
	return false
}

// MatchDecodedTopic evaluates the already decoded m.Event, read from topic.
func (m *Matcher) MatchDecodedTopic(topic string) []int {
	for _, r := range m.out {
		m.matched[r>>6] = 0
	}
	m.out = m.out[:0]
	for _, c := range m.triedIDs {
		m.tried[c>>6] = 0
	}
	m.triedIDs = m.triedIDs[:0]
	if m.sampleEvery > 0 {
		m.sampleLeft--
		if m.sampling = m.sampleLeft <= 0; m.sampling {
			m.sampleLeft = m.sampleEvery
		}
	}
	ev := &m.Event
	e := m.eng
	m.routes = e.live.collect(ev, topic, m.routes[:0])
	clear(m.routeOn)
	m.active = m.active[:0]
	activate := func(r *route) {
		if !m.routeOn.has(r.id) {
			m.routeOn.set(r.id)
			m.active = append(m.active, r)
		}
	}
	// An event some logsource entry recognised is of that entry's product: rules without a mapped
	// logsource run on it only when they name the same product, or none and no category or
	// service either. Unrecognised events get them all. Entries without rules still recognise
	// events.
	m.products = m.products[:0]
	for _, r := range m.routes {
		activate(r)
		for _, mi := range r.multis {
			activate(e.multis[mi])
		}
		if !slices.Contains(m.products, r.product) {
			m.products = append(m.products, r.product)
		}
	}
	if len(e.globals) > 0 {
		recognised := len(m.routes) > 0
		if !recognised && e.globalsScoped {
			m.idle = e.idle.collect(ev, topic, m.idle[:0])
			for _, r := range m.idle {
				if !slices.Contains(m.products, r.product) {
					m.products = append(m.products, r.product)
				}
			}
			recognised = len(m.idle) > 0
		}
		switch {
		case recognised && len(m.products) == 1:
			// the usual case: one product, whose global routes its routes list
			by := m.idle
			if len(m.routes) > 0 {
				by = m.routes
			}
			for _, g := range by[0].globals {
				activate(g)
			}
		default:
			for _, g := range e.globals {
				if !recognised || !g.unrecognisedOnly && (g.product == "" || slices.Contains(m.products, g.product)) {
					activate(g)
				}
			}
		}
	}
	for _, r := range m.active {
		for _, vi := range r.always {
			m.try(&r.variants[vi], ev)
		}
	}
	for _, gv := range e.index.candidates(ev, m.active, m.routeOn, &m.scratch) {
		ref := e.index.varRef[gv]
		m.try(&e.routes[ref.route].variants[ref.local], ev)
	}
	if len(m.out) > 1 {
		sort.Ints(m.out)
	}
	return m.out
}

// try evaluates a variant unless its rule already matched or the same condition was already
// evaluated through another route.
func (m *Matcher) try(v *variant, ev *event.Event) {
	if m.matched.has(v.rule) || m.tried.has(v.condID) {
		return
	}
	m.tried.set(v.condID)
	m.triedIDs = append(m.triedIDs, v.condID)
	if m.sampling {
		start := time.Now()
		ok := v.cond.eval(ev)
		c := &m.costs[v.rule]
		c.Evals++
		c.Nanos += int64(time.Since(start))
		if ok {
			m.matched.set(v.rule)
			m.out = append(m.out, int(v.rule))
		}
		return
	}
	if v.cond.eval(ev) {
		m.matched.set(v.rule)
		m.out = append(m.out, int(v.rule))
	}
}
