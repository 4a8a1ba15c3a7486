package ingest

import (
	"strings"
	"time"

	"github.com/vigil-detect/vigil/internal/jsonstr"
)

// field is one parsed field: a string value, or an object of fields (syslog structured data).
type field struct {
	key  string
	val  string
	kids []field
	obj  bool
}

// parser collects the fields of one record in order.
type parser struct {
	fields  []field
	loc     *time.Location
	recTime time.Time
}

func (p *parser) reset(loc *time.Location, recTime time.Time) {
	clear(p.fields)
	p.fields = p.fields[:0]
	p.loc, p.recTime = loc, recTime
}

// add appends a string field; a key seen before gets its value replaced (last one wins, as
// most key=value consumers do).
func (p *parser) add(key, val string) {
	for i := range p.fields {
		if p.fields[i].key == key && !p.fields[i].obj {
			p.fields[i].val = val
			return
		}
	}
	p.fields = append(p.fields, field{key: key, val: val})
}

// get finds a top-level string field, or one inside an object by a dotted path.
func (p *parser) get(path string) (string, bool) {
	fs := p.fields
	for {
		for i := range fs {
			if fs[i].key == path && !fs[i].obj {
				return fs[i].val, true
			}
		}
		// Descend into the object whose key is a prefix of path followed by a dot.
		found := false
		for i := range fs {
			if fs[i].obj && strings.HasPrefix(path, fs[i].key+".") {
				path = path[len(fs[i].key)+1:]
				fs = fs[i].kids
				found = true
				break
			}
		}
		if !found {
			return "", false
		}
	}
}

// matchInto adds the named groups of x that matched v.
func (p *parser) matchInto(x *extractor, v string) {
	m := x.re.FindStringSubmatchIndex(v)
	if m == nil {
		return
	}
	for g, name := range x.names {
		if name == "" || m[2*g] < 0 {
			continue
		}
		p.add(name, v[m[2*g]:m[2*g+1]])
	}
}

// appendJSON writes the fields as one JSON object.
func (p *parser) appendJSON(dst []byte) []byte { return appendObject(dst, p.fields) }

func appendObject(dst []byte, fields []field) []byte {
	dst = append(dst, '{')
	for i := range fields {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = fields[i].appendMember(dst)
	}
	return append(dst, '}')
}

func (f *field) appendMember(dst []byte) []byte {
	dst = jsonstr.Append(dst, f.key)
	dst = append(dst, ':')
	if f.obj {
		return appendObject(dst, f.kids)
	}
	return jsonstr.Append(dst, f.val)
}
