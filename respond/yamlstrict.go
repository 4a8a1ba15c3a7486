package respond

import (
	"fmt"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/vigil-detect/vigil/config"
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

// decodeStrict decodes n into out, reporting unknown keys and type errors with their lines.
func decodeStrict(n *yaml.Node, out any, errs *configErrors) {
	before := len(errs.errs)
	config.CheckKeys(n, out, "response", func(line int, msg string) {
		errs.errs = append(errs.errs, fmt.Sprintf("%s:%d: %s", errs.file, line, msg))
	})
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
