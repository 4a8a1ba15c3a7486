package jsonstr

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/vigil-detect/vigil/internal/race"
)

// Append writes what encoding/json writes (without HTML escaping), for strings and byte slices.
func TestAppendIsEncodingJSON(t *testing.T) {
	for _, s := range []string{"", "plain", `C:\Windows\"x"`, "tab\tnew\nline\r\x00\x1f\b\f\x7f", "Été 😀",
		"\xff", "a\xe2\x80x", "\u2028 and \u2029", "<&>", "trailing \xf0\x9f\x98"} {
		var want bytes.Buffer
		enc := json.NewEncoder(&want)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(s); err != nil {
			t.Fatal(err)
		}
		w := bytes.TrimSuffix(want.Bytes(), []byte("\n"))
		if got := Append(nil, s); !bytes.Equal(got, w) {
			t.Errorf("%q: got %s, encoding/json %s", s, got, w)
		}
		if got := Append([]byte("x"), []byte(s)); !bytes.Equal(got[1:], w) {
			t.Errorf("%q as bytes: got %s, encoding/json %s", s, got[1:], w)
		}
	}
}

func TestAppendAllocatesNothing(t *testing.T) {
	if race.Enabled {
		t.Skip("the race detector's instrumentation allocates")
	}
	buf := make([]byte, 0, 256)
	s := []byte("é \u2028 \xff \"q\" \\ \t")
	if n := testing.AllocsPerRun(100, func() { buf = Append(buf[:0], s) }); n != 0 {
		t.Fatalf("Append allocates %v times", n)
	}
}
