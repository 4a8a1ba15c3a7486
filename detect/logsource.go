package detect

import (
	_ "embed"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"

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
	Topics        []string          // only records from these Kafka topics; none: any record
	Conditions    rules.Search      // events must match this search; no maps: every event
	FieldMappings map[string]string // rule field → event field, for this source only
	Path          string
	Line          int
}

//go:embed logsources_windows.yaml
var windowsLogsources []byte

// parsedWindowsLogsources parses the embedded table once: every Compile without a routing
// option uses it.
var parsedWindowsLogsources = sync.OnceValues(func() ([]Logsource, error) {
	return ParseLogsources("builtin:logsources_windows.yaml", windowsLogsources)
})

// BuiltinLogsources returns Vigil's routing table for Windows events in the SigmaHQ shape (a
// fresh slice; its entries share read-only conditions).
func BuiltinLogsources() []Logsource {
	ls, err := parsedWindowsLogsources()
	if err != nil {
		panic(err) // the embedded table is tested
	}
	return slices.Clone(ls)
}

// LoadLogsources reads a routing file (the format of logsources_windows.yaml).
func LoadLogsources(path string) ([]Logsource, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return ParseLogsources(path, data)
}

// logsourceEntry is one entry of a routing file.
type logsourceEntry struct {
	Name          string            `yaml:"name"`
	Category      string            `yaml:"category"`
	Product       string            `yaml:"product"`
	Service       string            `yaml:"service"`
	Topics        []string          `yaml:"topics"`
	Conditions    yaml.Node         `yaml:"conditions"`
	FieldMappings map[string]string `yaml:"fieldmappings"`
}

// ParseLogsources parses a routing file: a `logsources:` list of entries. Unknown keys are
// errors, with their line.
func ParseLogsources(path string, data []byte) ([]Logsource, error) {
	var doc struct {
		Logsources []logsourceEntry `yaml:"logsources"`
	}
	if err := rules.DecodeStrict(data, &doc); err != nil {
		return nil, yamlFileError(path, err)
	}
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, yamlFileError(path, err)
	}
	lines := entryLines(&root, "logsources")
	return logsourcesFrom(path, doc.Logsources, lines)
}

// logsourcesFrom checks decoded routing entries; lines holds each entry's line.
func logsourcesFrom(path string, entries []logsourceEntry, lines []int) ([]Logsource, error) {
	var out []Logsource
	for i, e := range entries {
		line := 0
		if i < len(lines) {
			line = lines[i]
		}
		ls := Logsource{Name: e.Name, Category: e.Category, Product: e.Product, Service: e.Service,
			Topics: e.Topics, FieldMappings: e.FieldMappings, Path: path, Line: line}
		for _, t := range e.Topics {
			if t == "" {
				return nil, rules.Errorf(path, line, "logsource %q: empty topic name", e.Name)
			}
		}
		if ls.Name == "" {
			ls.Name = fmt.Sprintf("logsource_%d", i+1)
		}
		if ls.Category == "" && ls.Product == "" && ls.Service == "" {
			return nil, rules.Errorf(path, line, "logsource %q names no category, product or service", ls.Name)
		}
		if e.Conditions.Kind != 0 {
			key := &yaml.Node{Kind: yaml.ScalarNode, Value: ls.Name, Line: e.Conditions.Line}
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

// yamlFileError positions a yaml.v3 error ("yaml: line N: msg", or a type error listing lines).
func yamlFileError(path string, err error) error {
	msg := rules.YAMLMessage(err)
	var line int
	if n, _ := fmt.Sscanf(msg, "line %d:", &line); n == 1 {
		return rules.Errorf(path, line, "%s", strings.TrimSpace(msg[strings.Index(msg, ":")+1:]))
	}
	return rules.Errorf(path, 0, "%s", msg)
}

// entryLines returns the line of each item of the top-level list under key.
func entryLines(root *yaml.Node, key string) []int {
	n := root
	if n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		n = n.Content[0]
	}
	if n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key && n.Content[i+1].Kind == yaml.SequenceNode {
			var lines []int
			for _, item := range n.Content[i+1].Content {
				lines = append(lines, item.Line)
			}
			return lines
		}
	}
	return nil
}

// logsource is the Sigma logsource the entry serves.
func (l *Logsource) logsource() sigma.Logsource {
	return sigma.Logsource{Category: l.Category, Product: l.Product, Service: l.Service}
}

// serves reports whether a rule with logsource want runs on this source: every attribute the
// rule names must be named here with the same value.
func (l *Logsource) serves(want sigma.Logsource) bool {
	eq := func(rule, mine string) bool {
		return rule == "" || strings.EqualFold(rule, mine)
	}
	return eq(want.Category, l.Category) && eq(want.Product, l.Product) && eq(want.Service, l.Service)
}

// pins returns, per event field, the values the conditions require it to equal (fields of a
// one-map condition with plain values and no modifiers). eventField maps a condition field to
// the event field(s) holding it; fields mapped to several are left out. complete reports that
// the pins are the whole condition: an event whose fields hold pinned values meets it.
func (l *Logsource) pins(eventField func(string) []string) (out map[string][]string, complete bool) {
	if len(l.Conditions.Maps) != 1 {
		return nil, false
	}
	out = map[string][]string{}
next:
	for _, f := range l.Conditions.Maps[0] {
		if len(f.Modifiers) > 0 {
			continue
		}
		names := eventField(f.Field)
		if len(names) != 1 {
			continue
		}
		var keys []string
		for _, v := range f.Values {
			// Numbers pin only in canonical decimal form: 0x10 equals the event's 16 as a
			// number, which a map lookup on the text would miss.
			if v.IsNull() || strings.ContainsAny(v.Text, `*?\`) || v.Tag == "!!float" ||
				(v.Tag == "!!int" && canonicalInteger(v.Text) != v.Text) {
				continue next
			}
			keys = append(keys, foldString(v.Text))
		}
		out[names[0]] = keys
	}
	return out, len(out) == len(l.Conditions.Maps[0]) && len(l.Conditions.Keywords) == 0
}
