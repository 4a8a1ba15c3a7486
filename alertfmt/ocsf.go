package alertfmt

import (
	"strings"
	"time"

	"github.com/vigil-detect/vigil/alert"
)

// OCSFVersion is the OCSF schema version the findings declare (metadata.version). Every
// attribute written exists in that version's Detection Finding class and its objects.
const OCSFVersion = "1.3.0"

// OCSF classification of a newly created Detection Finding.
const (
	ocsfCategoryFindings = 2
	ocsfClassDetection   = 2004
	ocsfActivityCreate   = 1
	ocsfTypeCreate       = ocsfClassDetection*100 + ocsfActivityCreate // 200401
)

// ocsf writes an alert as an OCSF Detection Finding (class_uid 2004, activity Create): the rule
// as finding_info.analytic, ATT&CK tags as finding_info.attacks, entities as observables, the
// matched event as raw_data, contributing alerts of a correlation as related_events, and Vigil's
// own fields under unmapped.vigil. Times are epoch milliseconds.
type ocsf struct{ o Options }

func (ocsf) Name() string { return "ocsf" }

type ocsfFinding struct {
	ActivityID   int              `json:"activity_id"`
	ActivityName string           `json:"activity_name"`
	CategoryUID  int              `json:"category_uid"`
	CategoryName string           `json:"category_name"`
	ClassUID     int              `json:"class_uid"`
	ClassName    string           `json:"class_name"`
	TypeUID      int              `json:"type_uid"`
	TypeName     string           `json:"type_name"`
	SeverityID   int              `json:"severity_id"`
	Severity     string           `json:"severity"`
	StatusID     int              `json:"status_id"`
	Status       string           `json:"status"`
	Time         int64            `json:"time"`
	StartTime    int64            `json:"start_time,omitempty"`
	EndTime      int64            `json:"end_time,omitempty"`
	Count        int              `json:"count,omitempty"`
	Message      string           `json:"message"`
	RiskScore    int              `json:"risk_score"`
	FindingInfo  ocsfFindingInfo  `json:"finding_info"`
	Metadata     ocsfMetadata     `json:"metadata"`
	Observables  []ocsfObservable `json:"observables,omitempty"`
	RawData      string           `json:"raw_data,omitempty"`
	Unmapped     map[string]any   `json:"unmapped"`
}

type ocsfFindingInfo struct {
	UID           string             `json:"uid"`
	Title         string             `json:"title"`
	Types         []string           `json:"types"`
	Analytic      ocsfAnalytic       `json:"analytic"`
	Attacks       []ocsfAttack       `json:"attacks,omitempty"`
	CreatedTime   int64              `json:"created_time"`
	FirstSeenTime int64              `json:"first_seen_time,omitempty"`
	LastSeenTime  int64              `json:"last_seen_time,omitempty"`
	RelatedEvents []ocsfRelatedEvent `json:"related_events,omitempty"`
}

type ocsfAnalytic struct {
	UID      string `json:"uid,omitempty"`
	Name     string `json:"name"`
	TypeID   int    `json:"type_id"`
	Type     string `json:"type"`
	Category string `json:"category"`
}

type ocsfAttack struct {
	Technique *ocsfUIDName `json:"technique,omitempty"`
	Tactic    *ocsfUIDName `json:"tactic,omitempty"`
}

type ocsfUIDName struct {
	UID  string `json:"uid"`
	Name string `json:"name,omitempty"`
}

type ocsfRelatedEvent struct {
	UID     string `json:"uid"`
	TypeUID int    `json:"type_uid"`
	Type    string `json:"type"`
}

type ocsfMetadata struct {
	Version string      `json:"version"`
	Product ocsfProduct `json:"product"`
	Labels  []string    `json:"labels,omitempty"`
}

type ocsfProduct struct {
	Name       string `json:"name"`
	VendorName string `json:"vendor_name"`
	Version    string `json:"version"`
}

type ocsfObservable struct {
	Name   string `json:"name"`
	Type   string `json:"type"`
	TypeID int    `json:"type_id"`
	Value  string `json:"value"`
}

// ocsfSeverity maps a Sigma level to OCSF's severity_id and caption.
func ocsfSeverity(level string) (int, string) {
	switch strings.ToLower(level) {
	case "informational":
		return 1, "Informational"
	case "low":
		return 2, "Low"
	case "medium":
		return 3, "Medium"
	case "high":
		return 4, "High"
	case "critical":
		return 5, "Critical"
	}
	return 0, "Unknown"
}

func millis(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

func (o ocsf) Append(dst []byte, a *alert.Alert) ([]byte, error) {
	now := o.o.Now().UnixMilli()
	sevID, sev := ocsfSeverity(a.Rule.Level)
	first, last := timeRange(a)
	f := ocsfFinding{
		ActivityID: ocsfActivityCreate, ActivityName: "Create",
		CategoryUID: ocsfCategoryFindings, CategoryName: "Findings",
		ClassUID: ocsfClassDetection, ClassName: "Detection Finding",
		TypeUID: ocsfTypeCreate, TypeName: "Detection Finding: Create",
		SeverityID: sevID, Severity: sev,
		StatusID: 1, Status: "New",
		Time: now, StartTime: millis(first), EndTime: millis(last),
		Message:   a.Rule.Title,
		RiskScore: a.Score,
		FindingInfo: ocsfFindingInfo{
			UID: a.ID, Title: a.Rule.Title, Types: []string{a.Kind},
			Analytic:      ocsfAnalytic{UID: a.Rule.ID, Name: a.Rule.Title, TypeID: 1, Type: "Rule", Category: "sigma"},
			CreatedTime:   now,
			FirstSeenTime: millis(first), LastSeenTime: millis(last),
		},
		Metadata: ocsfMetadata{Version: OCSFVersion, Labels: a.Rule.Tags,
			Product: ocsfProduct{Name: "Vigil", VendorName: "Vigil", Version: o.o.Version}},
		Unmapped: map[string]any{"vigil": vigilOf(a)},
	}
	if a.Count > 1 {
		f.Count = a.Count
	}
	if a.Rule.ID == "" {
		f.FindingInfo.Analytic.UID = a.Rule.Name
	}
	if len(a.Event) > 0 {
		f.RawData = string(a.Event)
	}
	at := attackTags(a.Rule.Tags)
	for _, t := range at.techniques {
		f.FindingInfo.Attacks = append(f.FindingInfo.Attacks, ocsfAttack{Technique: &ocsfUIDName{UID: t}})
	}
	for _, t := range at.tactics {
		f.FindingInfo.Attacks = append(f.FindingInfo.Attacks, ocsfAttack{Tactic: &ocsfUIDName{UID: tactics[t][0], Name: tactics[t][1]}})
	}
	if c := a.Correlation; c != nil {
		for _, id := range c.AlertIDs {
			f.FindingInfo.RelatedEvents = append(f.FindingInfo.RelatedEvents,
				ocsfRelatedEvent{UID: id, TypeUID: ocsfTypeCreate, Type: "Detection Finding: Create"})
		}
	}
	// Observable type ids: 1 Hostname, 2 IP Address, 4 User Name; names point at where the values
	// are in this finding.
	for _, u := range a.Entities.User {
		f.Observables = append(f.Observables, ocsfObservable{Name: "unmapped.vigil.entities.user", Type: "User Name", TypeID: 4, Value: u})
	}
	for _, h := range a.Entities.Host {
		f.Observables = append(f.Observables, ocsfObservable{Name: "unmapped.vigil.entities.host", Type: "Hostname", TypeID: 1, Value: h})
	}
	for _, ip := range a.Entities.IP {
		f.Observables = append(f.Observables, ocsfObservable{Name: "unmapped.vigil.entities.ip", Type: "IP Address", TypeID: 2, Value: ip})
	}
	return appendJSON(dst, &f)
}
