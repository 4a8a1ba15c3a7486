package alertfmt

import (
	"time"

	"github.com/vigil-detect/vigil/alert"
)

// ECSVersion is the Elastic Common Schema version the ECS format follows.
const ECSVersion = "8.11.0"

// ecs writes an alert as an ECS document: event.kind "alert", the rule under rule.*, ATT&CK tags
// under threat.*, entities under related.* (and user.name / host.name when there is exactly one),
// the matched event in event.original, and Vigil's own fields under vigil.*.
type ecs struct{ o Options }

func (ecs) Name() string { return "ecs" }

type ecsDoc struct {
	Timestamp time.Time   `json:"@timestamp"`
	Message   string      `json:"message"`
	ECS       ecsVersion  `json:"ecs"`
	Event     ecsEvent    `json:"event"`
	Rule      ecsRule     `json:"rule"`
	Tags      []string    `json:"tags,omitempty"`
	Threat    *ecsThreat  `json:"threat,omitempty"`
	Related   ecsRelated  `json:"related"`
	User      *ecsName    `json:"user,omitempty"`
	Host      *ecsName    `json:"host,omitempty"`
	Observer  ecsObserver `json:"observer"`
	Labels    ecsLabels   `json:"labels"`
	Vigil     vigilFields `json:"vigil"`
}

type ecsVersion struct {
	Version string `json:"version"`
}

type ecsEvent struct {
	Kind      string     `json:"kind"`
	Category  []string   `json:"category"`
	Type      []string   `json:"type"`
	ID        string     `json:"id"`
	Module    string     `json:"module"`
	Dataset   string     `json:"dataset"`
	Severity  int        `json:"severity"`
	RiskScore float64    `json:"risk_score"`
	Start     *time.Time `json:"start,omitempty"`
	End       *time.Time `json:"end,omitempty"`
	Original  string     `json:"original,omitempty"`
}

type ecsRule struct {
	ID      string `json:"id,omitempty"`
	UUID    string `json:"uuid,omitempty"`
	Name    string `json:"name"`
	Ruleset string `json:"ruleset"`
}

type ecsThreat struct {
	Framework string       `json:"framework"`
	Technique *ecsIDs      `json:"technique,omitempty"`
	Tactic    *ecsIDsNames `json:"tactic,omitempty"`
}

type ecsIDs struct {
	ID []string `json:"id"`
}

type ecsIDsNames struct {
	ID   []string `json:"id"`
	Name []string `json:"name"`
}

type ecsRelated struct {
	User  []string `json:"user,omitempty"`
	Hosts []string `json:"hosts,omitempty"`
	IP    []string `json:"ip,omitempty"`
}

type ecsName struct {
	Name string `json:"name"`
}

type ecsObserver struct {
	Vendor  string `json:"vendor"`
	Product string `json:"product"`
	Type    string `json:"type"`
	Version string `json:"version"`
}

type ecsLabels struct {
	Level string `json:"sigma_level,omitempty"`
}

func (e ecs) Append(dst []byte, a *alert.Alert) ([]byte, error) {
	d := ecsDoc{
		Timestamp: a.Time,
		Message:   a.Rule.Title,
		ECS:       ecsVersion{ECSVersion},
		Event: ecsEvent{
			Kind: "alert", Category: []string{"intrusion_detection"}, Type: []string{"info"},
			ID: a.ID, Module: "vigil", Dataset: "vigil." + a.Kind,
			Severity: a.Score, RiskScore: float64(a.Score),
		},
		Rule:     ecsRule{ID: a.Rule.ID, UUID: a.Rule.ID, Name: a.Rule.Title, Ruleset: "sigma"},
		Tags:     a.Rule.Tags,
		Related:  ecsRelated{User: a.Entities.User, Hosts: a.Entities.Host, IP: a.Entities.IP},
		Observer: ecsObserver{Vendor: "Vigil", Product: "Vigil", Type: "ids", Version: e.o.Version},
		Labels:   ecsLabels{Level: a.Rule.Level},
		Vigil:    vigilOf(a),
	}
	if a.Rule.ID == "" {
		d.Rule.ID = a.Rule.Name
	}
	if len(a.Event) > 0 {
		d.Event.Original = string(a.Event)
	}
	if first, last := timeRange(a); !first.IsZero() {
		d.Event.Start, d.Event.End = &first, &last
	}
	if u := single(a.Entities.User); u != "" {
		d.User = &ecsName{u}
	}
	if h := single(a.Entities.Host); h != "" {
		d.Host = &ecsName{h}
	}
	if at := attackTags(a.Rule.Tags); len(at.techniques)+len(at.tactics) > 0 {
		d.Threat = &ecsThreat{Framework: "MITRE ATT&CK"}
		if len(at.techniques) > 0 {
			d.Threat.Technique = &ecsIDs{ID: at.techniques}
		}
		if len(at.tactics) > 0 {
			t := &ecsIDsNames{}
			for _, name := range at.tactics {
				t.ID = append(t.ID, tactics[name][0])
				t.Name = append(t.Name, tactics[name][1])
			}
			d.Threat.Tactic = t
		}
	}
	return appendJSON(dst, &d)
}
