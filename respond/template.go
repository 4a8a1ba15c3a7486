package respond

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"text/template"
	"time"

	"github.com/vigil-detect/vigil/alert"
)

// TemplateData is what action templates see (docs/response.md lists it).
type TemplateData struct {
	Alert      *alert.Alert      // the alert, with the fields of its JSON form
	Target     string            // the entity acted on; "" for alert-scoped actions
	TargetType string            // ip, user, host or alert
	Action     string            // the named action
	Operation  string            // e.g. block_ip, or unblock_ip when reverting
	Revert     bool              // true when undoing a reversible action
	Playbook   string            // the playbook that decided
	Mode       string            // dry-run or enforce
	DecisionID string            // deterministic: alert, playbook, action and target
	Params     map[string]string // the playbook action's params
	Time       time.Time         // when the decision was made (wall clock, UTC)
}

// defaultBody is the JSON document every action sends unless it sets body.
const defaultBody = `{"operation":{{json .Operation}},"action":{{json .Action}},"target":{{json .Target}},` +
	`"target_type":{{json .TargetType}},"decision":{{json .DecisionID}},"playbook":{{json .Playbook}},` +
	`"mode":{{json .Mode}},"params":{{json .Params}},"time":{{json .Time}},"alert":{{json .Alert}}}`

const defaultKey = `{{if .Target}}{{.Target}}{{else}}{{.Alert.ID}}{{end}}`

var funcs = template.FuncMap{
	"json": func(v any) (string, error) {
		b, err := json.Marshal(v)
		return string(b), err
	},
	"join":  func(s []string, sep string) string { return strings.Join(s, sep) },
	"lower": strings.ToLower,
	"upper": strings.ToUpper,
	"first": func(s []string) string {
		if len(s) == 0 {
			return ""
		}
		return s[0]
	},
}

// templates are one action's compiled templates: what to send, and what to send to undo it.
type templates struct {
	url, body, key *template.Template
	command        []*template.Template
	revertURL      *template.Template
	revertBody     *template.Template
	revertKey      *template.Template
	revertCommand  []*template.Template
}

func parseTemplate(name, text string) (*template.Template, error) {
	return template.New(name).Funcs(funcs).Option("missingkey=zero").Parse(text)
}

// templates compiles the action's templates and renders them once with sample data, so that a
// misspelt field is reported when the configuration loads rather than during an incident.
func (a *ActionConfig) templates(name string) (*templates, error) {
	t := &templates{}
	var errs []error
	parse := func(what, text, def string) *template.Template {
		if text == "" {
			text = def
		}
		if text == "" {
			return nil
		}
		tpl, err := parseTemplate(what, text)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %v", what, err))
			return nil
		}
		return tpl
	}
	parseArgv := func(what string, argv []string) []*template.Template {
		var out []*template.Template
		for i, s := range argv {
			out = append(out, parse(fmt.Sprintf("%s[%d]", what, i), s, ""))
		}
		return out
	}
	switch a.Type {
	case "webhook":
		t.url = parse("url", a.URL, "")
		t.body = parse("body", a.Body, defaultBody)
	case "kafka":
		t.key = parse("key", a.Key, defaultKey)
		t.body = parse("body", a.Body, defaultBody)
	case "exec":
		t.command = parseArgv("command", a.Command)
		t.body = parse("body", a.Body, defaultBody)
	}
	if r := a.Revert; r != nil {
		t.revertURL = parse("revert.url", r.URL, "")
		t.revertBody = parse("revert.body", r.Body, "")
		t.revertKey = parse("revert.key", r.Key, "")
		if len(r.Command) > 0 {
			t.revertCommand = parseArgv("revert.command", r.Command)
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	target := a.Target
	if b, ok := builtins[name]; ok {
		target = b.target
	}
	for _, revert := range []bool{false, true} {
		if _, err := t.render(a.Type, sampleData(name, target, revert), revert); err != nil {
			return nil, err
		}
	}
	return t, nil
}

// request is a rendered action: what a transport sends.
type request struct {
	URL  string   `json:"url,omitempty"`
	Body string   `json:"body,omitempty"`
	Key  string   `json:"key,omitempty"`
	Argv []string `json:"argv,omitempty"`
}

func execute(t *template.Template, d *TemplateData) (string, error) {
	var b bytes.Buffer
	if err := t.Execute(&b, d); err != nil {
		return "", err
	}
	return b.String(), nil
}

// render fills the templates for d; revert selects the undo variants (falling back to the
// forward ones, which see .Revert and .Operation).
func (t *templates) render(typ string, d *TemplateData, revert bool) (*request, error) {
	pick := func(fwd, rev *template.Template) *template.Template {
		if revert && rev != nil {
			return rev
		}
		return fwd
	}
	r := &request{}
	var err error
	if tpl := pick(t.body, t.revertBody); tpl != nil {
		if r.Body, err = execute(tpl, d); err != nil {
			return nil, fmt.Errorf("body: %v", err)
		}
	}
	switch typ {
	case "webhook":
		if r.URL, err = execute(pick(t.url, t.revertURL), d); err != nil {
			return nil, fmt.Errorf("url: %v", err)
		}
		u, perr := url.Parse(strings.TrimSpace(r.URL))
		if perr != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("url %q: want an absolute http or https URL", r.URL)
		}
		r.URL = u.String()
		if !json.Valid([]byte(r.Body)) {
			return nil, fmt.Errorf("body is not valid JSON (use {{json .Field}} to quote values): %.200s", r.Body)
		}
	case "kafka":
		if r.Key, err = execute(pick(t.key, t.revertKey), d); err != nil {
			return nil, fmt.Errorf("key: %v", err)
		}
	case "exec":
		argv := t.command
		if revert && t.revertCommand != nil {
			argv = t.revertCommand
		}
		for i, tpl := range argv {
			s, err := execute(tpl, d)
			if err != nil {
				return nil, fmt.Errorf("command[%d]: %v", i, err)
			}
			r.Argv = append(r.Argv, s)
		}
	}
	return r, nil
}

// sampleData is a fully populated decision, used to check templates at load time.
func sampleData(action, target string, revert bool) *TemplateData {
	a := &alert.Alert{
		ID: "0123456789abcdef0123456789abcdef", Time: time.Unix(0, 0).UTC(), Kind: alert.KindCorrelation,
		Rule:        alert.Rule{ID: "sample", Title: "Sample", Level: "high", Tags: []string{"attack.t1110"}, Name: "sample"},
		Score:       80,
		Entities:    alert.Entities{User: []string{"sample.user"}, Host: []string{"SAMPLE-HOST"}, IP: []string{"192.0.2.1"}},
		Event:       json.RawMessage(`{"EventID":4625}`),
		Group:       map[string]string{"IpAddress": "192.0.2.1"},
		Correlation: &alert.Correlation{Type: "event_count", Count: 10},
		Enrichment:  &alert.Enrichment{ScoreParts: map[string]int{"level": 75}},
		Count:       1,
		Source:      &alert.Source{Topic: "events"},
	}
	op := action
	if b, ok := builtins[action]; ok {
		op = b.operation
		if revert {
			op = b.revert
		}
	} else if revert {
		op = "revert_" + action
	}
	tv := "192.0.2.1"
	switch target {
	case TargetUser:
		tv = "sample.user"
	case TargetHost:
		tv = "SAMPLE-HOST"
	case TargetAlert:
		tv = ""
	}
	return &TemplateData{Alert: a, Target: tv, TargetType: target, Action: action, Operation: op, Revert: revert,
		Playbook: "sample", Mode: ModeEnforce, DecisionID: "sample", Params: map[string]string{}, Time: time.Unix(0, 0).UTC()}
}
