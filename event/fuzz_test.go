package event

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"
	"unicode/utf8"
)

// FuzzDecode checks Decode against encoding/json: it never panics, accepts exactly the valid
// UTF-8 JSON objects within the limits (Decode is lenient in one way: raw control characters in
// strings, such as tabs in log messages, are accepted so that such events are still evaluated), gives a known reason for everything it rejects, and reads
// top-level string fields as encoding/json does. Seeds: testdata/fuzz/FuzzDecode.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{`{}`, `{"a":"b"}`, `{"a":[1,{"b":null}],"c":{"d":true}}`, `[]`, `"x"`, `{"a":"\ud83d\ude00"}`} {
		f.Add([]byte(s))
	}
	s := NewSchema()
	fa := s.Add("a")
	s.Add("a.b")
	s.Add("c.d")
	s.Add("list")
	s.CollectAll()
	s.ExpectScalar(fa)
	lim := Limits{MaxBytes: 4096, MaxDepth: 8}
	var ev Event
	f.Fuzz(func(t *testing.T, raw []byte) {
		err := s.Decode(raw, &ev, lim)
		valid := json.Valid(lenient(raw)) && utf8.Valid(raw) && len(raw) <= lim.MaxBytes && depth(raw) <= lim.MaxDepth && isObject(raw)
		if err != nil {
			var de *Error
			if !errors.As(err, &de) {
				t.Fatalf("error of type %T: %v", err, err)
			}
			switch de.Reason {
			case "invalid_json", "not_object", "invalid_utf8", "too_large", "too_deep":
			default:
				t.Fatalf("unknown reason %q", de.Reason)
			}
			if valid {
				t.Fatalf("rejected a valid object: %v", err)
			}
			return
		}
		if !valid {
			t.Fatalf("accepted %q", raw)
		}
		var m map[string]any
		dec := json.NewDecoder(bytes.NewReader(lenient(raw)))
		dec.UseNumber() // 1e700 is valid JSON, though no float64 holds it
		if err := dec.Decode(&m); err != nil {
			t.Fatalf("encoding/json rejects what Decode accepted: %v", err)
		}
		if str, ok := m["a"].(string); ok {
			if vals := ev.Values(fa); len(vals) == 1 && bytes.Equal(lenient(raw), raw) && string(vals[0].Raw) != str {
				t.Fatalf("a = %q, encoding/json reads %q", vals[0].Raw, str)
			}
		}
		if f, odd := ev.UnexpectedType(); odd {
			if _, isObj := m["a"].(map[string]any); !isObj && f == fa {
				if _, isList := m["a"].([]any); !isList {
					t.Fatalf("unexpected type reported for a = %v", m["a"])
				}
			}
		}
	})
}

// depth is the deepest nesting of objects and arrays in valid JSON.
func depth(raw []byte) int {
	d, best, inStr := 0, 0, false
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		switch {
		case inStr && c == '\\':
			i++
		case c == '"':
			inStr = !inStr
		case inStr:
		case c == '{' || c == '[':
			d++
			best = max(best, d)
		case c == '}' || c == ']':
			d--
		}
	}
	return best
}

func isObject(raw []byte) bool {
	for _, c := range raw {
		switch c {
		case ' ', '\t', '\n', '\r':
			continue
		}
		return c == '{'
	}
	return false
}

// lenient replaces raw control characters inside strings by spaces, which Decode accepts and
// encoding/json does not.
func lenient(raw []byte) []byte {
	out := append([]byte(nil), raw...)
	inStr := false
	for i := 0; i < len(out); i++ {
		switch c := out[i]; {
		case inStr && c == '\\':
			i++
		case c == '"':
			inStr = !inStr
		case inStr && c < 0x20:
			out[i] = ' '
		}
	}
	return out
}
