package detect

import (
	_ "embed"
	"fmt"
	"os"
	"strings"

	sigma "github.com/bradleyjkemp/sigma-go"
	"gopkg.in/yaml.v3"

	"github.com/vigil-detect/vigil/rules"
)

// Logsource maps a Sigma logsource to the events it covers.
type Logsource struct {
	Name          string
	Category      string
	Product       string
	Service       string
	Conditions    rules.Search      // events must match this search; no maps: every event
	FieldMappings map[string]string // rule field → event field, for this source only
	Path          string
	Line          int
}

//go:embed logsources_windows.yaml
var windowsLogsources []byte

// BuiltinLogsources returns Vigil's routing table for Windows events in the SigmaHQ shape.
func BuiltinLogsources() []Logsource {
	ls, err := ParseLogsources("builtin:logsources_windows.yaml", windowsLogsources)
	if err != nil {
		panic(err) // the embedded table is tested
	}
	return ls
}

// LoadLogsources reads a routing file (the format of logsources_windows.yaml).
func LoadLogsources(path string) ([]Logsource, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return ParseLogsources(path, data)
}

// ParseLogsources parses a routing file.
func ParseLogsources(path string, data []byte) ([]Logsource, error) {
	var doc struct {
		Logsources []struct {
			Name          string            `yaml:"name"`
			Category      string            `yaml:"category"`
			Product       string            `yaml:"product"`
			Service       string            `yaml:"service"`
			Conditions    yaml.Node         `yaml:"conditions"`
			FieldMappings map[string]string `yaml:"fieldmappings"`
		} `yaml:"logsources"`
	}
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	if err := root.Decode(&doc); err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	var out []Logsource
	for i, e := range doc.Logsources {
		line := 0
		if e.Conditions.Kind != 0 {
			line = e.Conditions.Line
		}
		ls := Logsource{Name: e.Name, Category: e.Category, Product: e.Product, Service: e.Service,
			FieldMappings: e.FieldMappings, Path: path, Line: line}
		if ls.Name == "" {
			ls.Name = fmt.Sprintf("logsource_%d", i+1)
		}
		if ls.Category == "" && ls.Product == "" && ls.Service == "" {
			return nil, rules.Errorf(path, line, "logsource %q names no category, product or service", ls.Name)
		}
		if e.Conditions.Kind != 0 {
			key := &yaml.Node{Kind: yaml.ScalarNode, Value: ls.Name, Line: line}
			s, err := rules.ParseSearch(path, key, &e.Conditions)
			if err != nil {
				return nil, err
			}
			ls.Conditions = s
		}
		out = append(out, ls)
	}
	return out, nil
}

// serves reports whether a rule with logsource want runs on this source: every attribute the
// rule names must be named here with the same value.
func (l *Logsource) serves(want sigma.Logsource) bool {
	eq := func(rule, mine string) bool {
		return rule == "" || strings.EqualFold(rule, mine)
	}
	return eq(want.Category, l.Category) && eq(want.Product, l.Product) && eq(want.Service, l.Service)
}

// dispatchKeys returns the values field must equal for an event to match this source, when the
// conditions pin it to a list of plain values.
func (l *Logsource) dispatchKeys(field string) ([]string, bool) {
	if len(l.Conditions.Maps) != 1 {
		return nil, false
	}
	for _, f := range l.Conditions.Maps[0] {
		if f.Field != field || len(f.Modifiers) > 0 {
			continue
		}
		var keys []string
		for _, v := range f.Values {
			if v.IsNull() || strings.ContainsAny(v.Text, `*?\`) {
				return nil, false
			}
			keys = append(keys, foldString(v.Text))
		}
		return keys, true
	}
	return nil, false
}
