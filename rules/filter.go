package rules

import (
	"strings"

	"gopkg.in/yaml.v3"
)

// parseFilter reads a filter document (the Sigma filters specification, v2.0.0): a mandatory
// logsource, and a `filter` section holding `rules` (the rules it applies to), search
// identifiers and one condition. As in pySigma, `rules` may also be `any` or `all` (or an empty
// list): every rule of the filter's logsource.
func parseFilter(path string, doc *yaml.Node, f *Filter) error {
	hasLogsource := false
	for i := 0; i+1 < len(doc.Content); i += 2 {
		if doc.Content[i].Value == "logsource" {
			hasLogsource = resolve(doc.Content[i+1]).Kind == yaml.MappingNode
		}
	}
	if !hasLogsource {
		return Errorf(path, doc.Line, "filter %q: a filter needs a logsource (a mapping of category, product, service)", f.Title)
	}
	node := resolve(f.Node)
	if node.Kind != yaml.MappingNode {
		return Errorf(path, node.Line, "filter %q: the filter section must be a mapping of rules, search identifiers and a condition", f.Title)
	}
	det := &yaml.Node{Kind: yaml.MappingNode, Line: node.Line, Column: node.Column}
	rulesSeen := false
	for i := 0; i+1 < len(node.Content); i += 2 {
		k, v := node.Content[i], resolve(node.Content[i+1])
		switch k.Value {
		case "rules":
			rulesSeen = true
			switch v.Kind {
			case yaml.ScalarNode:
				if strings.EqualFold(v.Value, "any") || strings.EqualFold(v.Value, "all") {
					f.AllRules = true
				} else if v.Value != "" {
					f.Rules = []string{v.Value}
				}
			case yaml.SequenceNode:
				for _, item := range v.Content {
					item = resolve(item)
					if item.Kind != yaml.ScalarNode || item.Value == "" {
						return Errorf(path, item.Line, "filter %q: rules lists rule ids or names", f.Title)
					}
					f.Rules = append(f.Rules, item.Value)
				}
				f.AllRules = len(f.Rules) == 0
			default:
				return Errorf(path, v.Line, "filter %q: rules must be 'any', a rule id or name, or a list of them", f.Title)
			}
			if !f.AllRules && len(f.Rules) == 0 {
				return Errorf(path, v.Line, "filter %q: rules must be 'any', a rule id or name, or a list of them", f.Title)
			}
		case "condition":
			if v.Kind != yaml.ScalarNode {
				return Errorf(path, v.Line, "filter %q: the condition must be one string", f.Title)
			}
			det.Content = append(det.Content, k, v)
		default:
			det.Content = append(det.Content, k, v)
		}
	}
	if !rulesSeen {
		return Errorf(path, node.Line, "filter %q: a filter needs rules (rule ids or names, or 'any')", f.Title)
	}
	d, err := parseDetection(path, det)
	if err != nil {
		return err
	}
	if len(d.Searches) == 0 {
		return Errorf(path, node.Line, "filter %q: a filter needs at least one search identifier", f.Title)
	}
	f.Detection = d
	return nil
}
