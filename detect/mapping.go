package detect

import (
	"embed"
	"fmt"
	"os"
	"regexp"
	"slices"
	"sort"
	"strings"

	sigma "github.com/bradleyjkemp/sigma-go"
	"gopkg.in/yaml.v3"

	"github.com/vigil-detect/vigil/rules"
)

// A FieldMapping is a field mapping pipeline: it renames the fields rules (and routing
// conditions) name to the fields events hold, possibly differently per logsource. The format is
// a subset of pySigma's processing pipelines:
//
//	name: ecs-windows
//	priority: 20                  # files are applied in ascending priority, then in order given
//	vars:                         # placeholder values for the expand modifier
//	  Admins: [adm_*]
//	transformations:
//	  - id: proc_pe               # optional; processing_item_applied conditions name it
//	    type: field_name_mapping  # field: event field, or a list of event fields (ORed)
//	    mapping: {OriginalFileName: process.pe.original_file_name}
//	    rule_conditions: [{type: logsource, category: process_creation}]
//	  - type: field_name_prefix   # also field_name_suffix, field_name_prefix_mapping
//	    prefix: winlog.event_data.
//	    field_name_conditions: [{type: include_fields, fields: ['\.'], mode: re}]
//	    field_name_cond_not: true
//
// Items apply in order, each to the names the previous ones produced. An item applies to a rule
// when its rule conditions hold (rule_cond_op and|or, rule_cond_not), and to a field when its
// field name conditions hold (field_name_cond_op and|or, field_name_cond_not). Condition types:
// rule `logsource` (category, product, service: each one given must equal the rule's, ignoring
// case); field `include_fields` and `exclude_fields` (fields, mode plain or re: a regular
// expression must match the whole name) and `processing_item_applied` (processing_item_id: an
// earlier item renamed this field).
type FieldMapping struct {
	Name     string
	Path     string
	Priority int
	Vars     map[string][]string
	items    []mappingItem
}

type mappingItem struct {
	id         string
	kind       string
	line       int
	mapping    map[string][]string // field_name_mapping, field_name_prefix_mapping
	affix      string              // field_name_prefix, field_name_suffix
	ruleConds  []logsourceCondition
	ruleOr     bool
	ruleNot    bool
	fieldConds []fieldCondition
	fieldOr    bool
	fieldNot   bool
}

type logsourceCondition struct{ category, product, service string }

type fieldCondition struct {
	kind   string // include_fields, exclude_fields, processing_item_applied
	fields []string
	res    []*regexp.Regexp
	itemID string
}

// mappingTransformations are the transformation types Vigil applies.
var mappingTransformations = []string{"field_name_mapping", "field_name_prefix", "field_name_prefix_mapping", "field_name_suffix", "value_placeholders"}

//go:embed mappings/*.yml
var builtinMappings embed.FS

// BuiltinMappingPrefix names the embedded presets in configuration: builtin:sigma (the flat
// Sysmon/Windows shape SigmaHQ rules expect: no renames) and builtin:ecs-windows (Winlogbeat and
// Elastic Agent events in the Elastic Common Schema).
const BuiltinMappingPrefix = "builtin:"

// BuiltinMappings lists the names of the embedded presets.
func BuiltinMappings() []string {
	entries, _ := builtinMappings.ReadDir("mappings")
	var out []string
	for _, e := range entries {
		out = append(out, BuiltinMappingPrefix+strings.TrimSuffix(e.Name(), ".yml"))
	}
	sort.Strings(out)
	return out
}

// LoadFieldMapping reads a pipeline file, or an embedded preset named builtin:NAME.
func LoadFieldMapping(path string) (*FieldMapping, error) {
	if name, ok := strings.CutPrefix(path, BuiltinMappingPrefix); ok {
		data, err := builtinMappings.ReadFile("mappings/" + name + ".yml")
		if err != nil {
			return nil, fmt.Errorf("%s: no such preset (have %s)", path, strings.Join(BuiltinMappings(), ", "))
		}
		return ParseFieldMapping(path, data)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return ParseFieldMapping(path, data)
}

// ParseFieldMapping parses a pipeline file; unknown keys and unsupported transformations are
// errors with their line.
func ParseFieldMapping(path string, data []byte) (*FieldMapping, error) {
	var doc struct {
		Name            string               `yaml:"name"`
		Priority        int                  `yaml:"priority"`
		Vars            map[string]yaml.Node `yaml:"vars"`
		AllowedBackends []string             `yaml:"allowed_backends"`
		Transformations []yaml.Node          `yaml:"transformations"`
		Postprocessing  yaml.Node            `yaml:"postprocessing"`
		Finalizers      yaml.Node            `yaml:"finalizers"`
	}
	if err := rules.DecodeStrict(data, &doc); err != nil {
		return nil, yamlFileError(path, err)
	}
	m := &FieldMapping{Name: doc.Name, Path: path, Priority: doc.Priority, Vars: map[string][]string{}}
	if doc.Postprocessing.Kind != 0 || doc.Finalizers.Kind != 0 {
		n := &doc.Postprocessing
		if n.Kind == 0 {
			n = &doc.Finalizers
		}
		return nil, rules.Errorf(path, n.Line, "postprocessing and finalizers shape backend queries; Vigil evaluates rules itself and has no use for them")
	}
	for name, n := range doc.Vars {
		switch n.Kind {
		case yaml.ScalarNode:
			m.Vars[name] = []string{n.Value}
		case yaml.SequenceNode:
			for _, v := range n.Content {
				if v.Kind != yaml.ScalarNode {
					return nil, rules.Errorf(path, v.Line, "vars %q: values must be strings", name)
				}
				m.Vars[name] = append(m.Vars[name], v.Value)
			}
		default:
			return nil, rules.Errorf(path, n.Line, "vars %q: a value or a list of values", name)
		}
	}
	ids := map[string]bool{}
	for i := range doc.Transformations {
		item, err := parseMappingItem(path, &doc.Transformations[i], ids)
		if err != nil {
			return nil, err
		}
		if item.id != "" {
			ids[item.id] = true
		}
		if item.kind != "value_placeholders" {
			m.items = append(m.items, item)
		}
	}
	return m, nil
}

func parseMappingItem(path string, n *yaml.Node, ids map[string]bool) (mappingItem, error) {
	var raw struct {
		ID               string               `yaml:"id"`
		Type             string               `yaml:"type"`
		Mapping          map[string]yaml.Node `yaml:"mapping"`
		Prefix           string               `yaml:"prefix"`
		Suffix           string               `yaml:"suffix"`
		RuleConditions   []map[string]any     `yaml:"rule_conditions"`
		RuleCondOp       string               `yaml:"rule_cond_op"`
		RuleCondNot      bool                 `yaml:"rule_cond_not"`
		FieldConditions  []map[string]any     `yaml:"field_name_conditions"`
		FieldCondOp      string               `yaml:"field_name_cond_op"`
		FieldCondNot     bool                 `yaml:"field_name_cond_not"`
		Include          []string             `yaml:"include"` // value_placeholders
		Exclude          []string             `yaml:"exclude"`
		DetectionItemCnd yaml.Node            `yaml:"detection_item_conditions"`
	}
	item := mappingItem{line: n.Line}
	var kind struct {
		Type string `yaml:"type"`
	}
	if err := n.Decode(&kind); err != nil {
		return item, rules.Errorf(path, n.Line, "a transformation is a mapping with a type")
	}
	if !slices.Contains(mappingTransformations, kind.Type) {
		return item, rules.Errorf(path, n.Line, "transformation type %q is not supported (Vigil applies %s)", kind.Type, strings.Join(mappingTransformations, ", "))
	}
	if err := rules.DecodeNodeStrict(n, &raw); err != nil {
		return item, rules.Errorf(path, n.Line, "transformation %s: %v", kind.Type, err)
	}
	item.id, item.kind = raw.ID, raw.Type
	if raw.DetectionItemCnd.Kind != 0 {
		return item, rules.Errorf(path, raw.DetectionItemCnd.Line, "detection_item_conditions are not supported")
	}
	switch raw.Type {
	case "field_name_mapping", "field_name_prefix_mapping":
		if len(raw.Mapping) == 0 {
			return item, rules.Errorf(path, n.Line, "%s needs a mapping", raw.Type)
		}
		item.mapping = map[string][]string{}
		for from, to := range raw.Mapping {
			switch to.Kind {
			case yaml.ScalarNode:
				item.mapping[from] = []string{to.Value}
			case yaml.SequenceNode:
				for _, v := range to.Content {
					if v.Kind != yaml.ScalarNode || v.Value == "" {
						return item, rules.Errorf(path, v.Line, "mapping %q: field names must be strings", from)
					}
					item.mapping[from] = append(item.mapping[from], v.Value)
				}
			}
			if len(item.mapping[from]) == 0 || item.mapping[from][0] == "" {
				return item, rules.Errorf(path, to.Line, "mapping %q: a field name or a list of field names", from)
			}
			if raw.Type == "field_name_prefix_mapping" && len(item.mapping[from]) != 1 {
				return item, rules.Errorf(path, to.Line, "field_name_prefix_mapping maps a prefix to one prefix")
			}
		}
	case "field_name_prefix", "field_name_suffix":
		item.affix = raw.Prefix
		if raw.Type == "field_name_suffix" {
			item.affix = raw.Suffix
		}
		if item.affix == "" {
			return item, rules.Errorf(path, n.Line, "%s needs a %s", raw.Type, strings.TrimPrefix(raw.Type, "field_name_"))
		}
	}
	var err error
	if item.ruleOr, err = condOp(raw.RuleCondOp); err != nil {
		return item, rules.Errorf(path, n.Line, "rule_cond_op: %v", err)
	}
	if item.fieldOr, err = condOp(raw.FieldCondOp); err != nil {
		return item, rules.Errorf(path, n.Line, "field_name_cond_op: %v", err)
	}
	item.ruleNot, item.fieldNot = raw.RuleCondNot, raw.FieldCondNot
	for _, c := range raw.RuleConditions {
		lc, err := logsourceConditionOf(c)
		if err != nil {
			return item, rules.Errorf(path, n.Line, "rule_conditions: %v", err)
		}
		item.ruleConds = append(item.ruleConds, lc)
	}
	for _, c := range raw.FieldConditions {
		fc, err := fieldConditionOf(c, ids)
		if err != nil {
			return item, rules.Errorf(path, n.Line, "field_name_conditions: %v", err)
		}
		item.fieldConds = append(item.fieldConds, fc)
	}
	return item, nil
}

func condOp(op string) (or bool, err error) {
	switch strings.ToLower(op) {
	case "", "and", "all":
		return false, nil
	case "or", "any":
		return true, nil
	}
	return false, fmt.Errorf("%q: want and or or", op)
}

func stringOf(c map[string]any, key string) (string, error) {
	v, ok := c[key]
	if !ok || v == nil {
		return "", nil
	}
	s, ok := v.(string)
	if !ok {
		return "", fmt.Errorf("%s must be a string", key)
	}
	return s, nil
}

func logsourceConditionOf(c map[string]any) (logsourceCondition, error) {
	var lc logsourceCondition
	if t, _ := stringOf(c, "type"); t != "logsource" {
		return lc, fmt.Errorf("type %q is not supported (Vigil evaluates logsource conditions)", t)
	}
	for k := range c {
		switch k {
		case "type", "category", "product", "service":
		default:
			return lc, fmt.Errorf("unknown key %q in a logsource condition", k)
		}
	}
	var err error
	if lc.category, err = stringOf(c, "category"); err != nil {
		return lc, err
	}
	if lc.product, err = stringOf(c, "product"); err != nil {
		return lc, err
	}
	lc.service, err = stringOf(c, "service")
	return lc, err
}

func fieldConditionOf(c map[string]any, ids map[string]bool) (fieldCondition, error) {
	var fc fieldCondition
	fc.kind, _ = stringOf(c, "type")
	switch fc.kind {
	case "include_fields", "exclude_fields":
		mode, err := stringOf(c, "mode")
		if err != nil {
			return fc, err
		}
		list, ok := c["fields"].([]any)
		if !ok || len(list) == 0 {
			return fc, fmt.Errorf("%s needs fields", fc.kind)
		}
		for _, f := range list {
			s, ok := f.(string)
			if !ok {
				return fc, fmt.Errorf("%s: fields must be strings", fc.kind)
			}
			switch mode {
			case "", "plain":
				fc.fields = append(fc.fields, s)
			case "re":
				re, err := regexp.Compile("^(?:" + s + ")$")
				if err != nil {
					return fc, fmt.Errorf("%s: %v", fc.kind, err)
				}
				fc.res = append(fc.res, re)
			default:
				return fc, fmt.Errorf("%s: mode %q: want plain or re", fc.kind, mode)
			}
		}
		for k := range c {
			if k != "type" && k != "fields" && k != "mode" {
				return fc, fmt.Errorf("unknown key %q in %s", k, fc.kind)
			}
		}
	case "processing_item_applied":
		id, err := stringOf(c, "processing_item_id")
		if err != nil || id == "" {
			return fc, fmt.Errorf("processing_item_applied needs processing_item_id")
		}
		if !ids[id] {
			return fc, fmt.Errorf("processing_item_applied: no earlier transformation has id %q", id)
		}
		fc.itemID = id
	default:
		return fc, fmt.Errorf("type %q is not supported (Vigil evaluates include_fields, exclude_fields, processing_item_applied)", fc.kind)
	}
	return fc, nil
}

func (lc logsourceCondition) holds(ls sigma.Logsource) bool {
	eq := func(want, got string) bool { return want == "" || strings.EqualFold(want, got) }
	return eq(lc.category, ls.Category) && eq(lc.product, ls.Product) && eq(lc.service, ls.Service)
}

func (it *mappingItem) appliesToRule(ls sigma.Logsource) bool {
	if len(it.ruleConds) == 0 {
		return true
	}
	ok := !it.ruleOr
	for _, c := range it.ruleConds {
		if it.ruleOr {
			ok = ok || c.holds(ls)
		} else {
			ok = ok && c.holds(ls)
		}
	}
	return ok != it.ruleNot
}

// mappedName is a field name with the ids of the items that renamed it.
type mappedName struct {
	name    string
	applied []string
}

func (it *mappingItem) appliesToField(f mappedName) bool {
	if len(it.fieldConds) == 0 {
		return true
	}
	ok := !it.fieldOr
	for _, c := range it.fieldConds {
		var h bool
		switch c.kind {
		case "include_fields", "exclude_fields":
			for _, s := range c.fields {
				h = h || s == f.name
			}
			for _, re := range c.res {
				h = h || re.MatchString(f.name)
			}
			if c.kind == "exclude_fields" {
				h = !h
			}
		case "processing_item_applied":
			for _, id := range f.applied {
				h = h || id == c.itemID
			}
		}
		if it.fieldOr {
			ok = ok || h
		} else {
			ok = ok && h
		}
	}
	return ok != it.fieldNot
}

// apply renames one field name; it returns the names unchanged when the item does not apply.
func (it *mappingItem) apply(f mappedName) []mappedName {
	if !it.appliesToField(f) {
		return []mappedName{f}
	}
	renamed := func(name string) mappedName {
		applied := f.applied
		if it.id != "" {
			applied = append(append([]string(nil), f.applied...), it.id)
		}
		return mappedName{name: name, applied: applied}
	}
	switch it.kind {
	case "field_name_mapping":
		to, ok := it.mapping[f.name]
		if !ok {
			return []mappedName{f}
		}
		out := make([]mappedName, len(to))
		for i, n := range to {
			out[i] = renamed(n)
		}
		return out
	case "field_name_prefix_mapping":
		for from, to := range it.mapping {
			if rest, ok := strings.CutPrefix(f.name, from); ok {
				return []mappedName{renamed(to[0] + rest)}
			}
		}
		return []mappedName{f}
	case "field_name_prefix":
		return []mappedName{renamed(it.affix + f.name)}
	case "field_name_suffix":
		return []mappedName{renamed(f.name + it.affix)}
	}
	return []mappedName{f}
}

// mapField applies field mapping pipelines, in order, to a field of a rule with logsource ls.
func mapField(pipelines []*FieldMapping, ls sigma.Logsource, field string) []string {
	names := []mappedName{{name: field}}
	for _, p := range pipelines {
		for i := range p.items {
			it := &p.items[i]
			if !it.appliesToRule(ls) {
				continue
			}
			var next []mappedName
			for _, n := range names {
				next = append(next, it.apply(n)...)
			}
			names = next
		}
	}
	out := make([]string, 0, len(names))
	seen := map[string]bool{}
	for _, n := range names {
		if !seen[n.name] {
			seen[n.name] = true
			out = append(out, n.name)
		}
	}
	return out
}

// SortFieldMappings orders pipelines by ascending priority, keeping the given order among
// equal priorities (as pySigma does).
func SortFieldMappings(ps []*FieldMapping) {
	sort.SliceStable(ps, func(i, j int) bool { return ps[i].Priority < ps[j].Priority })
}
