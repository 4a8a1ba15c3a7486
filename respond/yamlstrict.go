package respond

import (
	"fmt"
	"reflect"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// path names a place in the response section: keys and [index] segments.
type path []string

func (p path) key(k string) path { return append(append(path{}, p...), k) }
func (p path) idx(i int) path    { return append(append(path{}, p...), "["+strconv.Itoa(i)+"]") }

func (p path) String() string {
	var b strings.Builder
	b.WriteString("response")
	for _, s := range p {
		if !strings.HasPrefix(s, "[") {
			b.WriteByte('.')
		}
		b.WriteString(s)
	}
	return b.String()
}

// configErrors collects problems with the file and line they are on.
type configErrors struct {
	file string
	root *yaml.Node
	errs []string
}

func (e *configErrors) at(p path, format string, args ...any) {
	line := lineOf(e.root, p)
	where := e.file
	if where == "" {
		where = "config"
	}
	if line > 0 {
		where += ":" + strconv.Itoa(line)
	}
	e.errs = append(e.errs, fmt.Sprintf("%s: %s: %s", where, p, fmt.Sprintf(format, args...)))
}

// unknown reports an unknown key the way the rest of the configuration does:
// "file:line: unknown key response.x.y (did you mean z?)".
func (e *configErrors) unknown(p path, hint string) {
	where := e.file
	if where == "" {
		where = "config"
	}
	if line := lineOf(e.root, p); line > 0 {
		where += ":" + strconv.Itoa(line)
	}
	e.errs = append(e.errs, fmt.Sprintf("%s: unknown key %s%s", where, p, hint))
}

// suggest names the known key closest to a misspelt one (at most two edits away).
func suggest(key string, known []string) string {
	best, bestD := "", 3
	for _, k := range known {
		if d := editDistance(key, k); d < bestD {
			best, bestD = k, d
		}
	}
	if best == "" {
		return " (known: " + strings.Join(known, ", ") + ")"
	}
	return " (did you mean " + best + "?)"
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

func (e *configErrors) err() error {
	if len(e.errs) == 0 {
		return nil
	}
	return fmt.Errorf("%s", strings.Join(e.errs, "\n"))
}

func resolve(n *yaml.Node) *yaml.Node {
	for n != nil && (n.Kind == yaml.AliasNode || n.Kind == yaml.DocumentNode) {
		if n.Kind == yaml.AliasNode {
			n = n.Alias
		} else if len(n.Content) > 0 {
			n = n.Content[0]
		} else {
			return nil
		}
	}
	return n
}

// lineOf finds the line of the deepest node of p that exists.
func lineOf(root *yaml.Node, p path) int {
	n := resolve(root)
	if n == nil {
		return 0
	}
	line := n.Line
	for _, seg := range p {
		n = resolve(n)
		if n == nil {
			break
		}
		var next *yaml.Node
		if strings.HasPrefix(seg, "[") {
			i, _ := strconv.Atoi(strings.Trim(seg, "[]"))
			if n.Kind == yaml.SequenceNode && i < len(n.Content) {
				next = n.Content[i]
				line = next.Line
			}
		} else if n.Kind == yaml.MappingNode {
			for i := 0; i+1 < len(n.Content); i += 2 {
				if n.Content[i].Value == seg {
					next = n.Content[i+1]
					line = n.Content[i].Line
					break
				}
			}
		}
		if next == nil {
			break
		}
		n = next
	}
	return line
}

// checkKeys reports mapping keys that t does not declare (yaml.v3's Node.Decode has no strict
// mode), recursing through structs, pointers, slices and maps.
func checkKeys(n *yaml.Node, t reflect.Type, p path, errs *configErrors) {
	n = resolve(n)
	if n == nil {
		return
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			return // Decode reports the type error
		}
		fields := map[string]reflect.Type{}
		var names []string
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			tag, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
			if tag == "" || tag == "-" {
				continue
			}
			fields[tag] = f.Type
			names = append(names, tag)
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i].Value
			ft, ok := fields[k]
			if !ok {
				errs.unknown(p.key(k), suggest(k, names))
				continue
			}
			checkKeys(n.Content[i+1], ft, p.key(k), errs)
		}
	case reflect.Map:
		if n.Kind != yaml.MappingNode {
			return
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			checkKeys(n.Content[i+1], t.Elem(), p.key(n.Content[i].Value), errs)
		}
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			return
		}
		for i, c := range n.Content {
			checkKeys(c, t.Elem(), p.idx(i), errs)
		}
	}
}

// decodeStrict decodes n into out, reporting unknown keys and type errors with their lines.
func decodeStrict(n *yaml.Node, out any, errs *configErrors) {
	before := len(errs.errs)
	checkKeys(n, reflect.TypeOf(out), nil, errs)
	if len(errs.errs) > before {
		return
	}
	if err := n.Decode(out); err != nil {
		var te *yaml.TypeError
		if ok := asTypeError(err, &te); ok {
			for _, m := range te.Errors {
				// "line 12: cannot unmarshal ..." → "file:12: response: cannot unmarshal ..."
				line, msg, found := strings.Cut(strings.TrimPrefix(m, "line "), ": ")
				if !found {
					errs.errs = append(errs.errs, fmt.Sprintf("%s: response: %s", errs.file, m))
					continue
				}
				errs.errs = append(errs.errs, fmt.Sprintf("%s:%s: response: %s", errs.file, line, msg))
			}
			return
		}
		errs.errs = append(errs.errs, fmt.Sprintf("%s: response: %s", errs.file, strings.TrimPrefix(err.Error(), "yaml: ")))
	}
}

func asTypeError(err error, te **yaml.TypeError) bool {
	t, ok := err.(*yaml.TypeError)
	if ok {
		*te = t
	}
	return ok
}
