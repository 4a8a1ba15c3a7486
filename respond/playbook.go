package respond

import (
	"net/netip"
	"slices"
	"strings"

	"github.com/vigil-detect/vigil/alert"
)

// playbook is a compiled Playbook.
type playbook struct {
	name     string
	mode     string
	rules    map[string]bool // lower-case ids, names and titles
	tags     map[string]bool
	minLevel int // -1: any
	minScore int
	kinds    map[string]bool
	entity   string
	actions  []playbookAction
}

type playbookAction struct {
	act      *action
	approval bool
	params   map[string]string
}

func set(vals []string) map[string]bool {
	if len(vals) == 0 {
		return nil
	}
	m := map[string]bool{}
	for _, v := range vals {
		m[strings.ToLower(v)] = true
	}
	return m
}

func compilePlaybook(c *Playbook, actions map[string]*action) *playbook {
	p := &playbook{
		name: c.Name, mode: c.Mode, rules: set(c.Match.Rules), tags: set(c.Match.Tags),
		minLevel: alert.LevelRank(c.Match.MinLevel), minScore: c.Match.MinScore,
		kinds: set(c.Match.Kinds), entity: c.Match.Entity,
	}
	if p.mode == "" {
		p.mode = ModeDryRun
	}
	if c.Match.MinLevel == "" {
		p.minLevel = -1
	}
	for _, pa := range c.Actions {
		params := pa.Params
		if params == nil {
			params = map[string]string{}
		}
		p.actions = append(p.actions, playbookAction{act: actions[pa.Action], approval: pa.Approval == "required", params: params})
	}
	return p
}

// matches reports whether every condition of the playbook holds for a.
func (p *playbook) matches(a *alert.Alert) bool {
	if p.kinds != nil && !p.kinds[a.Kind] {
		return false
	}
	if p.rules != nil && !p.rules[strings.ToLower(a.Rule.ID)] && !p.rules[strings.ToLower(a.Rule.Name)] && !p.rules[strings.ToLower(a.Rule.Title)] {
		return false
	}
	if p.tags != nil && !slices.ContainsFunc(a.Rule.Tags, func(t string) bool { return p.tags[strings.ToLower(t)] }) {
		return false
	}
	if p.minLevel >= 0 && alert.LevelRank(a.Rule.Level) < p.minLevel {
		return false
	}
	if a.Score < p.minScore {
		return false
	}
	if p.entity != "" && len(targets(a, p.entity)) == 0 {
		return false
	}
	return true
}

// groupFields says which correlation group-by fields name which entity type.
var groupFields = func() map[string]string {
	m := map[string]string{}
	ef := alert.DefaultEntityFields()
	for _, f := range ef.User {
		m[strings.ToLower(f)] = TargetUser
	}
	for _, f := range ef.Host {
		m[strings.ToLower(f)] = TargetHost
	}
	for _, f := range ef.IP {
		m[strings.ToLower(f)] = TargetIP
	}
	return m
}()

// targets lists the entities of a type an alert concerns. When a correlation's group-by fields
// include fields of that type, their values are the targets: the group is what the correlation
// is about (a brute force groups by source address and account; the machine accounts in its
// events are not its subject). Otherwise the alert's entities are. Alert-scoped actions have
// the one target "".
func targets(a *alert.Alert, typ string) []string {
	if typ == TargetAlert {
		return []string{""}
	}
	var out []string
	for k, v := range a.Group {
		if groupFields[strings.ToLower(k)] != typ || v == "" || v == "-" {
			continue
		}
		if typ == TargetIP {
			ip, err := netip.ParseAddr(v)
			if err != nil {
				continue
			}
			v = ip.Unmap().String()
		}
		out = append(out, v)
	}
	if len(out) == 0 {
		switch typ {
		case TargetIP:
			out = append(out, a.Entities.IP...)
		case TargetUser:
			out = append(out, a.Entities.User...)
		case TargetHost:
			out = append(out, a.Entities.Host...)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}
