// Package alert is the alert every stage after detection passes along and every sink writes: the
// JSON contract of DESIGN.md, deterministic ids, and the entities an alert is about.
package alert

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"slices"
	"sort"
	"strings"
	"time"
)

// Kinds of alert.
const (
	KindDetection   = "detection"
	KindCorrelation = "correlation"
	KindRisk        = "risk"
)

// Alert is one alert. Its JSON form is the contract users and checks rely on.
type Alert struct {
	ID          string            `json:"id"`
	Time        time.Time         `json:"time"`
	Kind        string            `json:"kind"`
	Rule        Rule              `json:"rule"`
	Score       int               `json:"score"`
	Entities    Entities          `json:"entities"`
	Event       json.RawMessage   `json:"event,omitempty"`
	Group       map[string]string `json:"group,omitempty"`
	Correlation *Correlation      `json:"correlation,omitempty"`
	Enrichment  *Enrichment       `json:"enrichment,omitempty"`
	Count       int               `json:"count,omitempty"` // merged duplicates (suppression), when > 1
	Source      *Source           `json:"source,omitempty"`
	// Explain says which selections and values matched (detections, when asked for: `vigil
	// eval --explain`).
	Explain json.RawMessage `json:"explain,omitempty"`

	// EventCompact says Event has no whitespace outside its strings, as the decoder found: the
	// Vigil format then copies it as it is instead of compacting it. Not serialised.
	EventCompact bool `json:"-"`
	// Fields holds the event fields later stages read (correlation group-by and value fields),
	// extracted while the event was decoded. Not serialised.
	Fields map[string][]string `json:"-"`
	// RuleIndex is the detection rule's position in the compiled rule set (-1 for others).
	RuleIndex int `json:"-"`
	// Suppressed alerts feed correlations but are not written (a correlation's rules without
	// `generate: true`).
	Suppressed bool `json:"-"`
	// Headers are the Kafka headers of the record a detection alert came from; the Kafka alert
	// sinks pass them on (trace ids and the like survive the hop). Not serialised.
	Headers []Header `json:"-"`
	// Watermark is the highest event time the pipeline had seen in this alert's partition (a
	// file is one) when its record was processed, that record included: correlation measures
	// lateness against it. Not serialised.
	Watermark time.Time `json:"-"`
}

// Header is a Kafka record header.
type Header struct {
	Key   string
	Value []byte
}

// Rule identifies the rule that fired.
type Rule struct {
	ID    string   `json:"id"`
	Title string   `json:"title"`
	Level string   `json:"level"`
	Tags  []string `json:"tags"`
	Name  string   `json:"name,omitempty"`
}

// Entities are the users, hosts and addresses an alert concerns.
type Entities struct {
	User []string `json:"user"`
	Host []string `json:"host"`
	IP   []string `json:"ip"`
}

// Each calls f for every entity with its type ("user", "host", "ip").
func (e *Entities) Each(f func(kind, value string)) {
	for _, v := range e.User {
		f("user", v)
	}
	for _, v := range e.Host {
		f("host", v)
	}
	for _, v := range e.IP {
		f("ip", v)
	}
}

// Merge adds other's entities, keeping each list sorted and unique.
func (e *Entities) Merge(other Entities) {
	e.User = mergeSorted(e.User, other.User)
	e.Host = mergeSorted(e.Host, other.Host)
	e.IP = mergeSorted(e.IP, other.IP)
}

func mergeSorted(a, b []string) []string {
	out := append(append([]string{}, a...), b...)
	sort.Strings(out)
	return slices.Compact(out)
}

// Correlation describes what made a correlation rule fire.
type Correlation struct {
	Type      string    `json:"type"`
	Count     int       `json:"count,omitempty"`     // events (event_count, temporal*)
	Values    []string  `json:"values,omitempty"`    // distinct values (value_count), bounded
	Value     float64   `json:"value,omitempty"`     // aggregate (value_sum, value_avg, ...)
	Rules     []string  `json:"rules,omitempty"`     // rules seen (temporal*)
	First     time.Time `json:"first"`               // first contributing event time
	Last      time.Time `json:"last"`                // last contributing event time
	AlertIDs  []string  `json:"alert_ids,omitempty"` // contributing alerts, bounded
	Truncated bool      `json:"truncated,omitempty"` // alert_ids or values were cut
}

// Enrichment records context added to an alert.
type Enrichment struct {
	Indicators []IndicatorHit `json:"indicators,omitempty"`
	Assets     []AssetHit     `json:"assets,omitempty"`
	ScoreParts map[string]int `json:"score_parts,omitempty"`
}

// IndicatorHit is a threat-intelligence match.
type IndicatorHit struct {
	Type   string `json:"type"`
	Value  string `json:"value"`
	List   string `json:"list"`
	Source string `json:"source,omitempty"`
}

// AssetHit is an entity found in the asset inventory.
type AssetHit struct {
	Kind        string `json:"kind"`
	Value       string `json:"value"`
	Criticality string `json:"criticality"`
	Owner       string `json:"owner,omitempty"`
}

// Source locates the Kafka record an alert came from.
type Source struct {
	Topic     string `json:"topic"`
	Partition int    `json:"partition"`
	Offset    int64  `json:"offset"`
}

// ID derives a deterministic alert id from its parts: the same input always yields the same id,
// so replayed events produce alerts consumers can deduplicate.
func ID(parts ...[]byte) string {
	// The hashed text is each part's length (8 bytes, little-endian) and then the part. Up to
	// idStack bytes of it (an alert's event, usually) are gathered on the stack and hashed in
	// one call: a streaming hash, its sum and the parts would each be a heap allocation per alert.
	var stack [idStack]byte
	text := stack[:0]
	for _, p := range parts {
		text = binary.LittleEndian.AppendUint64(text, uint64(len(p)))
		text = append(text, p...)
	}
	var sum [sha256.Size]byte
	if len(text) <= idStack {
		sum = sha256.Sum256(text)
	} else {
		h := sha256.New() // text has gone to the heap anyway
		h.Write(text)
		h.Sum(sum[:0])
	}
	var id [32]byte
	hex.Encode(id[:], sum[:16])
	return string(id[:])
}

// idStack is how much of an id's hashed text ID keeps on the stack.
const idStack = 8 << 10

// LevelScore is the default score of a Sigma level.
func LevelScore(level string) int {
	switch strings.ToLower(level) {
	case "informational":
		return 10
	case "low":
		return 30
	case "medium":
		return 50
	case "high":
		return 75
	case "critical":
		return 95
	}
	return 40 // no or unknown level
}

// Levels lists Sigma levels from least to most severe.
var Levels = []string{"informational", "low", "medium", "high", "critical"}

// LevelRank orders levels (unknown: -1).
func LevelRank(level string) int {
	return slices.Index(Levels, strings.ToLower(level))
}
