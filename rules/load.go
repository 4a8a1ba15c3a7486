package rules

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	sigma "github.com/bradleyjkemp/sigma-go"
	"gopkg.in/yaml.v3"

	"github.com/vigil-detect/vigil/internal/parallel"
)

// Load reads rule files and directories (recursively, *.yml and *.yaml). Bad documents are
// reported in Set.Errors and skipped; everything else loads.
func Load(paths ...string) *Set { return LoadWith(Limits{}, paths...) }

// LoadWith is Load with limits. Files are parsed on every core (YAML parsing is most of the
// start-up time with thousands of rules); the set holds them in the order of paths, then file
// names, as if read one by one.
func LoadWith(lim Limits, paths ...string) *Set {
	// Each file gets a set of its own; a path that cannot be listed gets one holding the error.
	var files []string
	var parsed []Set
	for _, p := range paths {
		names, err := ruleFiles(p)
		if err != nil {
			files = append(files, "")
			parsed = append(parsed, Set{Errors: []error{&Error{Path: p, Err: err}}})
			continue
		}
		files = append(files, names...)
		parsed = append(parsed, make([]Set, len(names))...)
	}
	parallel.Each(len(files), func(i int) {
		if files[i] == "" {
			return
		}
		one := &parsed[i]
		one.Limits = lim
		data, err := readFile(files[i], lim.maxFileBytes())
		if err != nil {
			one.Errors = append(one.Errors, &Error{Path: files[i], Err: err})
			return
		}
		one.Add(files[i], data)
	})
	set := &Set{Limits: lim}
	for i := range parsed {
		set.merge(&parsed[i])
	}
	return set
}

// merge appends what another set loaded.
func (s *Set) merge(o *Set) {
	s.Rules = append(s.Rules, o.Rules...)
	s.Correlations = append(s.Correlations, o.Correlations...)
	s.Filters = append(s.Filters, o.Filters...)
	s.Files += o.Files
	s.Errors = append(s.Errors, o.Errors...)
}

// LoadFS reads every *.yml and *.yaml file of an fs.FS (the embedded starter rules).
func LoadFS(fsys fs.FS, prefix string) *Set {
	set := &Set{}
	var names []string
	_ = fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && isRuleFile(p) {
			names = append(names, p)
		}
		return nil
	})
	sort.Strings(names)
	for _, n := range names {
		data, err := fs.ReadFile(fsys, n)
		if err != nil {
			set.Errors = append(set.Errors, &Error{Path: prefix + n, Err: err})
			continue
		}
		set.Add(prefix+n, data)
	}
	return set
}

func isRuleFile(p string) bool {
	ext := strings.ToLower(filepath.Ext(p))
	return (ext == ".yml" || ext == ".yaml") && !IsTestFile(p)
}

// IsTestFile reports whether a path names a rule test file (NAME.test.yml or NAME.test.yaml,
// read by `vigil test`), which rule loading skips in directories.
func IsTestFile(p string) bool {
	base := strings.ToLower(filepath.Base(p))
	return strings.HasSuffix(base, ".test.yml") || strings.HasSuffix(base, ".test.yaml")
}

func readFile(path string, maxBytes int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxBytes+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > maxBytes {
		return nil, fmt.Errorf("file larger than %d bytes (rule_limits.max_file_bytes)", maxBytes)
	}
	return data, nil
}

func ruleFiles(root string) ([]string, error) {
	st, err := os.Stat(root)
	if err != nil {
		return nil, err
	}
	if !st.IsDir() {
		return []string{root}, nil
	}
	var files []string
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && p != root && strings.HasPrefix(d.Name(), ".") {
			return filepath.SkipDir
		}
		if !d.IsDir() && isRuleFile(p) {
			files = append(files, p)
		}
		return nil
	})
	sort.Strings(files)
	return files, err
}

// Add parses one file's contents (any number of YAML documents) into the set.
func (s *Set) Add(path string, data []byte) {
	s.Files++
	if max := s.Limits.maxFileBytes(); int64(len(data)) > max {
		s.Errors = append(s.Errors, &Error{Path: path, Err: fmt.Errorf("file larger than %d bytes (rule_limits.max_file_bytes)", max)})
		return
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var doc yaml.Node
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			return
		}
		if err != nil {
			// A syntax error ends the file: YAML cannot resynchronise after it.
			s.Errors = append(s.Errors, yamlError(path, err))
			return
		}
		if err := s.addDoc(path, &doc); err != nil {
			s.Errors = append(s.Errors, err)
		}
	}
}

// yamlError turns yaml.v3's "yaml: line N: msg" into a positioned Error.
func yamlError(path string, err error) *Error {
	msg := err.Error()
	var line int
	if n, _ := fmt.Sscanf(msg, "yaml: line %d:", &line); n == 1 {
		msg = strings.TrimSpace(msg[strings.Index(msg, ":")+1:])
		msg = strings.TrimSpace(msg[strings.Index(msg, ":")+1:])
		return &Error{Path: path, Line: line, Err: errors.New(msg)}
	}
	var te *yaml.TypeError
	if errors.As(err, &te) && len(te.Errors) > 0 {
		msg = te.Errors[0]
		if n, _ := fmt.Sscanf(msg, "line %d:", &line); n == 1 {
			msg = strings.TrimSpace(msg[strings.Index(msg, ":")+1:])
		}
	}
	return &Error{Path: path, Line: line, Err: errors.New(strings.TrimPrefix(msg, "yaml: "))}
}

func (s *Set) addDoc(path string, doc *yaml.Node) error {
	if doc.Kind == yaml.DocumentNode {
		if len(doc.Content) == 0 {
			return nil
		}
		doc = doc.Content[0]
	}
	if doc.Kind == yaml.ScalarNode && doc.Tag == "!!null" {
		return nil // an empty document, e.g. after a trailing '---'
	}
	if doc.Kind != yaml.MappingNode {
		return Errorf(path, doc.Line, "a Sigma document must be a YAML mapping")
	}
	sections := map[string]*yaml.Node{}
	meta := &yaml.Node{Kind: yaml.MappingNode, Line: doc.Line, Column: doc.Column}
	for i := 0; i+1 < len(doc.Content); i += 2 {
		k, v := doc.Content[i], doc.Content[i+1]
		switch k.Value {
		case "detection", "correlation", "filter":
			sections[k.Value] = v
		default:
			meta.Content = append(meta.Content, k, v)
		}
	}
	var m Meta
	if err := meta.Decode(&m.Rule); err != nil {
		return yamlError(path, err)
	}
	m.Path, m.Line = path, doc.Line
	if n, ok := m.AdditionalFields["name"].(string); ok {
		m.Name = n
	}
	if m.Title == "" {
		return Errorf(path, doc.Line, "missing title")
	}
	switch {
	case len(sections) > 1:
		return Errorf(path, doc.Line, "a document holds one of detection, correlation or filter, not several")
	case sections["detection"] != nil:
		det, err := parseDetection(path, sections["detection"])
		if err != nil {
			return err
		}
		s.Rules = append(s.Rules, &Rule{Meta: m, Detection: det})
	case sections["correlation"] != nil:
		s.Correlations = append(s.Correlations, &Correlation{Meta: m, Node: sections["correlation"]})
	case sections["filter"] != nil:
		f := &Filter{Meta: m, Node: sections["filter"]}
		if err := parseFilter(path, doc, f); err != nil {
			return err
		}
		s.Filters = append(s.Filters, f)
	default:
		return Errorf(path, doc.Line, "not a Sigma rule: no detection, correlation or filter section")
	}
	return nil
}

func resolve(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	return n
}

func parseDetection(path string, node *yaml.Node) (Detection, error) {
	node = resolve(node)
	det := Detection{Line: node.Line}
	if node.Kind != yaml.MappingNode {
		return det, Errorf(path, node.Line, "detection must be a mapping of search identifiers and a condition")
	}
	for i := 0; i+1 < len(node.Content); i += 2 {
		k, v := node.Content[i], resolve(node.Content[i+1])
		switch k.Value {
		case "condition":
			det.ConditionLine = v.Line
			switch v.Kind {
			case yaml.ScalarNode:
				det.Conditions = []string{v.Value}
			case yaml.SequenceNode:
				for _, c := range v.Content {
					if c.Kind != yaml.ScalarNode {
						return det, Errorf(path, c.Line, "condition list entries must be strings")
					}
					det.Conditions = append(det.Conditions, c.Value)
				}
			default:
				return det, Errorf(path, v.Line, "condition must be a string or a list of strings")
			}
		case "timeframe":
			// Only used by deprecated aggregation conditions, which compile reports.
		default:
			search, err := ParseSearch(path, k, v)
			if err != nil {
				return det, err
			}
			det.Searches = append(det.Searches, search)
		}
	}
	if len(det.Conditions) == 0 {
		return det, Errorf(path, node.Line, "detection has no condition")
	}
	return det, nil
}

// ParseSearch reads a search identifier with sigma-go's Search type (which splits field names
// from modifiers and tells keyword lists from field maps), then takes each value's exact text and
// YAML type from the node, which sigma-go's []interface{} values lose (1e6 vs 1000000, quoting).
func ParseSearch(path string, key, v *yaml.Node) (Search, error) {
	out := Search{Name: key.Value, Line: key.Line}
	var s sigma.Search
	if err := v.Decode(&s); err != nil {
		return out, Errorf(path, v.Line, "search %q: %v", key.Value, strings.TrimPrefix(err.Error(), "yaml: "))
	}
	switch {
	case s.Keywords != nil:
		for _, item := range v.Content {
			item = resolve(item)
			if item.Kind != yaml.ScalarNode {
				return out, Errorf(path, item.Line, "search %q: keyword lists hold only values", key.Value)
			}
			out.Keywords = append(out.Keywords, FieldSpec{Values: []Scalar{scalar(item)}, Line: item.Line})
		}
	case len(s.EventMatchers) > 0:
		maps := []*yaml.Node{v}
		if v.Kind == yaml.SequenceNode {
			maps = v.Content
		}
		if len(maps) != len(s.EventMatchers) {
			return out, Errorf(path, v.Line, "search %q: a list must hold only maps or only values", key.Value)
		}
		for mi, em := range s.EventMatchers {
			m := resolve(maps[mi])
			if len(em) == 0 {
				return out, Errorf(path, m.Line, "search %q holds an empty map", key.Value)
			}
			if m.Kind != yaml.MappingNode || len(m.Content) != 2*len(em) {
				return out, Errorf(path, m.Line, "search %q: a list must hold only maps or only values", key.Value)
			}
			var specs []FieldSpec
			for fi, fm := range em {
				kn, vn := m.Content[2*fi], resolve(m.Content[2*fi+1])
				spec := FieldSpec{Field: fm.Field, Modifiers: fm.Modifiers, Line: kn.Line}
				switch vn.Kind {
				case yaml.ScalarNode:
					spec.Values = []Scalar{scalar(vn)}
				case yaml.SequenceNode:
					spec.List = true
					for _, item := range vn.Content {
						item = resolve(item)
						if item.Kind != yaml.ScalarNode {
							return out, Errorf(path, item.Line, "field %q: list values must be scalars", kn.Value)
						}
						spec.Values = append(spec.Values, scalar(item))
					}
					if len(spec.Values) == 0 {
						return out, Errorf(path, vn.Line, "field %q: empty value list", kn.Value)
					}
				default:
					return out, Errorf(path, vn.Line, "field %q: a value must be a scalar or a list of scalars", kn.Value)
				}
				specs = append(specs, spec)
			}
			out.Maps = append(out.Maps, specs)
		}
	default:
		return out, Errorf(path, v.Line, "search %q is empty", key.Value)
	}
	return out, nil
}

func scalar(n *yaml.Node) Scalar {
	return Scalar{Text: n.Value, Tag: n.ShortTag()}
}
