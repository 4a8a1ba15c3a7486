// Package event gives the detection engine read access to JSON events without building maps.
//
// A Schema lists the field paths the loaded rules reference; Decode scans an event once, validates
// it, and records only those fields (their values unescaped and case-folded once) in a reusable
// Event. Nothing is allocated per event in steady state.
package event

import "strings"

// Schema assigns a dense index to every field path the loaded rules (and the pipeline) reference.
// It is built once per rule set and is read-only while events are decoded.
type Schema struct {
	names      []string
	index      map[string]int
	root       *node
	collectAll bool
	scalar     []bool // per field: rules compare its values as scalars (see ExpectScalar)
}

// node is one step of a dotted path ("winlog" → "event_data" → "Image").
type node struct {
	name  string // the key leading here from its parent
	field int    // index of the field that ends here, or -1
	kids  map[string]*node
}

func newNode() *node { return &node{field: -1} }

// NewSchema returns an empty schema.
func NewSchema() *Schema {
	return &Schema{index: map[string]int{}, root: newNode()}
}

// Add registers a field path and returns its index; adding a path twice returns the same index.
// A dotted path "a.b" matches both the nested object {"a":{"b":..}} and the literal key {"a.b":..}.
func (s *Schema) Add(path string) int {
	if i, ok := s.index[path]; ok {
		return i
	}
	i := len(s.names)
	s.names = append(s.names, path)
	s.index[path] = i
	s.root.child(path).field = i
	if strings.Contains(path, ".") {
		n := s.root
		for _, part := range strings.Split(path, ".") {
			n = n.child(part)
		}
		n.field = i
	}
	return i
}

func (n *node) child(key string) *node {
	if n.kids == nil {
		n.kids = map[string]*node{}
	}
	c := n.kids[key]
	if c == nil {
		c = newNode()
		c.name = key
		n.kids[key] = c
	}
	return c
}

// Lookup returns the index of a registered path.
func (s *Schema) Lookup(path string) (int, bool) {
	i, ok := s.index[path]
	return i, ok
}

// Len is the number of registered fields.
func (s *Schema) Len() int { return len(s.names) }

// Name returns the path of field i.
func (s *Schema) Name(i int) string { return s.names[i] }

// CollectAll makes Decode also gather every string and number value of the event, for keyword
// (field-less) searches.
func (s *Schema) CollectAll() { s.collectAll = true }

// CollectsAll reports whether CollectAll was called.
func (s *Schema) CollectsAll() bool { return s.collectAll }

// ExpectScalar records that field f is compared as a scalar (a string, number or boolean, or a
// list of them). Decode then notes an event whose f holds an object: such a value can never
// match, so the event is evaluated as usual and also reported (Event.UnexpectedType).
func (s *Schema) ExpectScalar(f int) {
	for len(s.scalar) <= f {
		s.scalar = append(s.scalar, false)
	}
	s.scalar[f] = true
}

func (s *Schema) expectsScalar(f int) bool { return f < len(s.scalar) && s.scalar[f] }
