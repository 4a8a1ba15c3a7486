// Package pipeline runs Vigil's flow: records from a source are decoded and matched in parallel,
// then, in source order, correlated, scored and written to sinks, and only then committed.
package pipeline

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/vigil-detect/vigil/alert"
	"github.com/vigil-detect/vigil/detect"
	"github.com/vigil-detect/vigil/event"
	"github.com/vigil-detect/vigil/rules"
)

// DefaultTimeFields are the event fields tried, in order, for an event's own time.
var DefaultTimeFields = []string{"@timestamp", "timestamp", "TimeCreated_SystemTime", "time", "UtcTime", "EventTime"}

// RuleOptions control how a rule set is compiled.
type RuleOptions struct {
	Detect     detect.Options
	Entities   *alert.EntityFields // nil: alert.DefaultEntityFields()
	TimeFields []string            // nil: DefaultTimeFields
	// ExtraFields lists, per detection rule id or name, event fields later stages need copied
	// into Alert.Fields (correlation group-by and value fields).
	ExtraFields func(r *detect.Rule) []string
	// Suppress reports whether a detection rule's own alerts are withheld (a correlation uses it
	// without `generate: true`).
	Suppress func(r *detect.Rule) bool
	// Explain adds to each detection alert which selections and values matched.
	Explain bool
}

// Ruleset is an immutable compiled rule set. A reload builds a new one and swaps it in.
type Ruleset struct {
	Set        *rules.Set
	Detect     *detect.Engine
	entities   *alert.Extractor
	timeFields []int
	extra      [][]namedField // per detection rule
	suppress   []bool         // per detection rule
	explain    bool
	Loaded     time.Time
}

type namedField struct {
	name  string
	index int
}

// Compile builds a Ruleset. Rules that fail are left out and reported in Detect.Errors (and
// set.Errors for files that did not parse).
func Compile(set *rules.Set, opt RuleOptions) *Ruleset {
	if opt.Detect.Schema == nil {
		opt.Detect.Schema = event.NewSchema()
	}
	rs := &Ruleset{Set: set, Loaded: time.Now(), explain: opt.Explain}
	opt.Detect.Filters = append(opt.Detect.Filters[:len(opt.Detect.Filters):len(opt.Detect.Filters)], set.Filters...)
	rs.Detect = detect.Compile(set.Rules, opt.Detect)
	schema := rs.Detect.Schema
	ef := alert.DefaultEntityFields()
	if opt.Entities != nil {
		ef = *opt.Entities
	}
	rs.entities = alert.NewExtractor(schema, ef)
	tf := opt.TimeFields
	if tf == nil {
		tf = DefaultTimeFields
	}
	for _, f := range tf {
		rs.timeFields = append(rs.timeFields, schema.Add(f))
	}
	rs.extra = make([][]namedField, len(rs.Detect.Rules))
	rs.suppress = make([]bool, len(rs.Detect.Rules))
	for i, r := range rs.Detect.Rules {
		if opt.ExtraFields != nil {
			for _, name := range opt.ExtraFields(r) {
				rs.extra[i] = append(rs.extra[i], namedField{name, schema.Add(name)})
			}
		}
		if opt.Suppress != nil {
			rs.suppress[i] = opt.Suppress(r)
		}
	}
	return rs
}

// Errors lists every problem found while loading and compiling.
func (rs *Ruleset) Errors() []error {
	return append(append([]error{}, rs.Set.Errors...), rs.Detect.Errors...)
}

// Summary describes the rule set in one line.
func (rs *Ruleset) Summary() string {
	return fmt.Sprintf("%d detection rules, %d correlation rules, %d filters, %d errors",
		len(rs.Detect.Rules), len(rs.Set.Correlations), len(rs.Set.Filters), len(rs.Errors()))
}

// eventTime reads the event's own time from the first time field that parses. bad reports an
// event that has a time field (not null) none of whose values parse.
func (rs *Ruleset) eventTime(ev *event.Event) (t time.Time, ok, bad bool) {
	for _, f := range rs.timeFields {
		for _, v := range ev.Values(f) {
			if t, ok := v.Time(); ok {
				return t, true, false
			}
			if v.Kind != event.Null {
				bad = true
			}
		}
	}
	return time.Time{}, false, bad
}

// Reasons for records that are evaluated and also copied to the dead-letter destination.
const (
	ReasonBadTimestamp   = "bad_timestamp"
	ReasonUnexpectedType = "unexpected_type"
)

// anomaly describes what is wrong with an event that was decoded and evaluated anyway: a time
// field that does not parse, or a field rules compare as a scalar holding an object. It returns
// "" when nothing is.
func (rs *Ruleset) anomaly(ev *event.Event, badTime bool) (reason, msg string) {
	var msgs []string
	if f, odd := ev.UnexpectedType(); odd {
		reason = ReasonUnexpectedType
		msgs = append(msgs, fmt.Sprintf("field %q holds an object where rules compare a value", rs.Detect.Schema.Name(f)))
	}
	if badTime {
		if reason == "" {
			reason = ReasonBadTimestamp
		}
		var names []string
		for _, f := range rs.timeFields {
			for _, v := range ev.Values(f) {
				if v.Kind != event.Null {
					names = append(names, fmt.Sprintf("%s=%.64q", rs.Detect.Schema.Name(f), v.Raw))
					break
				}
			}
		}
		msgs = append(msgs, "no time field parses ("+strings.Join(names, ", ")+"); the record time is used")
	}
	return reason, strings.Join(msgs, "; ")
}

// detectionAlert builds the alert of a rule match on a decoded event.
func (rs *Ruleset) detectionAlert(ri int, ev *event.Event, raw []byte, t time.Time, topic string, partition int, offset int64) *alert.Alert {
	r := rs.Detect.Rules[ri]
	tags := r.Tags
	if tags == nil {
		tags = []string{}
	}
	a := &alert.Alert{
		ID:       alert.ID([]byte(alert.KindDetection), []byte(r.Key()), raw),
		Time:     t,
		Kind:     alert.KindDetection,
		Rule:     alert.Rule{ID: r.ID, Title: r.Title, Level: r.Level, Tags: tags, Name: r.Name},
		Score:    alert.LevelScore(r.Level),
		Entities: rs.entities.Extract(ev),
		Event:    raw,
		// raw is the decoded event, or a copy of it (records converted from other formats)
		EventCompact: ev.Compact(),
		RuleIndex:    ri,
		Suppressed:   rs.suppress[ri],
	}
	if topic != "" {
		a.Source = &alert.Source{Topic: topic, Partition: partition, Offset: offset}
	}
	if rs.explain {
		if x, err := json.Marshal(rs.Detect.Explain(ri, ev, topic)); err == nil {
			a.Explain = x
		}
	}
	if len(rs.extra[ri]) > 0 {
		a.Fields = make(map[string][]string, len(rs.extra[ri]))
		for _, f := range rs.extra[ri] {
			vals := ev.Values(f.index)
			if len(vals) == 0 {
				continue
			}
			s := make([]string, 0, len(vals))
			for _, v := range vals {
				if v.Kind != event.Null {
					s = append(s, string(v.Raw))
				}
			}
			a.Fields[f.name] = s
		}
	}
	return a
}
