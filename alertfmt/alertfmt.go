// Package alertfmt writes alerts in the formats sinks offer: Vigil's own (the alert contract),
// the Elastic Common Schema, and the OCSF Detection Finding class, one JSON object per alert.
package alertfmt

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/vigil-detect/vigil/alert"
	"github.com/vigil-detect/vigil/internal/jsonstr"
)

// Encoder appends one alert as a JSON object (no newline) to dst.
type Encoder interface {
	Append(dst []byte, a *alert.Alert) ([]byte, error)
	// Name is the format's name: vigil, ecs or ocsf.
	Name() string
}

// Options are what the formats need besides the alert.
type Options struct {
	Version string           // Vigil's version, recorded as the producing product's
	Now     func() time.Time // creation time of OCSF findings (default time.Now)
}

// New returns the encoder of a format ("" is vigil).
func New(format string, o Options) (Encoder, error) {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Version == "" {
		o.Version = "dev"
	}
	switch format {
	case "", "vigil":
		return Vigil{}, nil
	case "ecs":
		return ecs{o}, nil
	case "ocsf":
		return ocsf{o}, nil
	}
	return nil, fmt.Errorf("unknown alert format %q: want vigil, ecs or ocsf", format)
}

// Vigil is the alert contract of DESIGN.md: the alert.Alert JSON form.
type Vigil struct{}

// Name is "vigil".
func (Vigil) Name() string { return "vigil" }

// Append encodes a as alert.Alert marshals. Detection alerts (no correlation, enrichment or
// explanation) are written by hand: encoding/json reflects over the struct and validates and
// compacts the raw event byte by byte, which took 13% of an end-to-end run on attack traffic
// (most events alerting). The event is JSON the decoder accepted: it is copied as it is when
// the decoder saw it compact, otherwise only its whitespace is removed, as encoding/json would.
func (Vigil) Append(dst []byte, a *alert.Alert) ([]byte, error) {
	if a.Correlation != nil || a.Enrichment != nil || len(a.Explain) > 0 || a.Time.Year() < 0 || a.Time.Year() > 9999 {
		return appendJSON(dst, a)
	}
	dst = append(dst, `{"id":`...)
	dst = jsonstr.Append(dst, a.ID)
	dst = append(dst, `,"time":"`...)
	dst = a.Time.AppendFormat(dst, time.RFC3339Nano)
	dst = append(dst, `","kind":`...)
	dst = jsonstr.Append(dst, a.Kind)
	dst = append(dst, `,"rule":{"id":`...)
	dst = jsonstr.Append(dst, a.Rule.ID)
	dst = append(dst, `,"title":`...)
	dst = jsonstr.Append(dst, a.Rule.Title)
	dst = append(dst, `,"level":`...)
	dst = jsonstr.Append(dst, a.Rule.Level)
	dst = append(dst, `,"tags":`...)
	dst = appendStrings(dst, a.Rule.Tags)
	if a.Rule.Name != "" {
		dst = append(dst, `,"name":`...)
		dst = jsonstr.Append(dst, a.Rule.Name)
	}
	dst = append(dst, `},"score":`...)
	dst = strconv.AppendInt(dst, int64(a.Score), 10)
	dst = append(dst, `,"entities":{"user":`...)
	dst = appendStrings(dst, a.Entities.User)
	dst = append(dst, `,"host":`...)
	dst = appendStrings(dst, a.Entities.Host)
	dst = append(dst, `,"ip":`...)
	dst = appendStrings(dst, a.Entities.IP)
	dst = append(dst, '}')
	if len(a.Event) > 0 {
		dst = append(dst, `,"event":`...)
		if a.EventCompact {
			dst = append(dst, a.Event...)
		} else {
			dst = appendCompact(dst, a.Event)
		}
	}
	if len(a.Group) > 0 {
		dst = append(dst, `,"group":{`...)
		for i, k := range slices.Sorted(maps.Keys(a.Group)) {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = jsonstr.Append(dst, k)
			dst = append(dst, ':')
			dst = jsonstr.Append(dst, a.Group[k])
		}
		dst = append(dst, '}')
	}
	if a.Count != 0 {
		dst = append(dst, `,"count":`...)
		dst = strconv.AppendInt(dst, int64(a.Count), 10)
	}
	if s := a.Source; s != nil {
		dst = append(dst, `,"source":{"topic":`...)
		dst = jsonstr.Append(dst, s.Topic)
		dst = append(dst, `,"partition":`...)
		dst = strconv.AppendInt(dst, int64(s.Partition), 10)
		dst = append(dst, `,"offset":`...)
		dst = strconv.AppendInt(dst, s.Offset, 10)
		dst = append(dst, '}')
	}
	return append(dst, '}'), nil
}

// appendStrings writes a string slice as encoding/json does (nil is null).
func appendStrings(dst []byte, ss []string) []byte {
	if ss == nil {
		return append(dst, "null"...)
	}
	dst = append(dst, '[')
	for i, s := range ss {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = jsonstr.Append(dst, s)
	}
	return append(dst, ']')
}

// appendCompact appends the JSON text src without the whitespace between its tokens, and with
// raw control characters in its strings escaped (the decoder tolerates them; JSON does not).
// src must otherwise be valid JSON.
func appendCompact(dst, src []byte) []byte {
	for i := 0; i < len(src); {
		switch c := src[i]; c {
		case ' ', '\t', '\n', '\r':
			i++
		case '"':
			end := i + 1
			for {
				q := bytes.IndexByte(src[end:], '"')
				if q < 0 {
					return append(dst, src[i:]...) // not valid JSON: left as it is
				}
				end += q + 1
				backslashes := 0
				for k := end - 2; k > i && src[k] == '\\'; k-- {
					backslashes++
				}
				if backslashes%2 == 0 {
					break // an unescaped quote ends the string
				}
			}
			dst = jsonstr.AppendEscapingControls(dst, src[i:end])
			i = end
		default:
			j := i + 1
			for j < len(src) && src[j] != '"' && src[j] != ' ' && src[j] != '\t' && src[j] != '\n' && src[j] != '\r' {
				j++
			}
			dst = append(dst, src[i:j]...)
			i = j
		}
	}
	return dst
}

// appendJSON marshals v without HTML escaping (alerts carry command lines full of < and &).
func appendJSON(dst []byte, v any) ([]byte, error) {
	buf := bytes.NewBuffer(dst)
	enc := json.NewEncoder(buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return dst, fmt.Errorf("encode alert: %w", err)
	}
	out := buf.Bytes()
	return out[:len(out)-1], nil // Encode's newline
}

// attack is what a rule's ATT&CK tags say: technique ids (T1110, T1110.001) and tactic names.
type attack struct {
	techniques []string
	tactics    []string // as in the tags: credential_access
}

// attackTags reads Sigma's attack.* tags.
func attackTags(tags []string) attack {
	var at attack
	for _, t := range tags {
		rest, ok := strings.CutPrefix(strings.ToLower(t), "attack.")
		if !ok {
			continue
		}
		if len(rest) > 1 && rest[0] == 't' && rest[1] >= '0' && rest[1] <= '9' {
			at.techniques = append(at.techniques, strings.ToUpper(rest))
		} else if _, ok := tactics[rest]; ok {
			at.tactics = append(at.tactics, rest)
		}
	}
	return at
}

// tactics maps Sigma's tactic tags to MITRE ATT&CK enterprise tactic ids and names.
var tactics = map[string][2]string{
	"reconnaissance":       {"TA0043", "Reconnaissance"},
	"resource_development": {"TA0042", "Resource Development"},
	"initial_access":       {"TA0001", "Initial Access"},
	"execution":            {"TA0002", "Execution"},
	"persistence":          {"TA0003", "Persistence"},
	"privilege_escalation": {"TA0004", "Privilege Escalation"},
	"defense_evasion":      {"TA0005", "Defense Evasion"},
	"credential_access":    {"TA0006", "Credential Access"},
	"discovery":            {"TA0007", "Discovery"},
	"lateral_movement":     {"TA0008", "Lateral Movement"},
	"collection":           {"TA0009", "Collection"},
	"command_and_control":  {"TA0011", "Command and Control"},
	"exfiltration":         {"TA0010", "Exfiltration"},
	"impact":               {"TA0040", "Impact"},
}

// vigilFields are Vigil's own alert fields that ECS and OCSF have no place for.
type vigilFields struct {
	Kind        string             `json:"kind"`
	Score       int                `json:"score"`
	Group       map[string]string  `json:"group,omitempty"`
	Correlation *alert.Correlation `json:"correlation,omitempty"`
	Enrichment  *alert.Enrichment  `json:"enrichment,omitempty"`
	Count       int                `json:"count,omitempty"`
	Source      *alert.Source      `json:"source,omitempty"`
	Entities    alert.Entities     `json:"entities"`
}

func vigilOf(a *alert.Alert) vigilFields {
	return vigilFields{Kind: a.Kind, Score: a.Score, Group: a.Group, Correlation: a.Correlation,
		Enrichment: a.Enrichment, Count: a.Count, Source: a.Source, Entities: a.Entities}
}

// timeRange is the first and last event time an alert covers.
func timeRange(a *alert.Alert) (time.Time, time.Time) {
	if c := a.Correlation; c != nil && !c.First.IsZero() {
		return c.First, c.Last
	}
	return a.Time, a.Time
}

func single(v []string) string {
	if len(v) == 1 {
		return v[0]
	}
	return ""
}
