package alert

import (
	"crypto/sha256"
	"encoding/hex"
	"math/rand"
	"testing"

	"github.com/vigil-detect/vigil/internal/race"
)

// streamingID is how ids were first computed (a streaming hash of each part's 8-byte length and
// bytes): ids must never change, or consumers deduplicating replayed alerts would see new ones.
func streamingID(parts ...[]byte) string {
	h := sha256.New()
	for _, p := range parts {
		var n [8]byte
		for i := range n {
			n[i] = byte(len(p) >> (8 * i))
		}
		h.Write(n[:])
		h.Write(p)
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}

func TestIDIsStable(t *testing.T) {
	if got := ID([]byte("detection"), []byte("rule"), []byte(`{"a":1}`)); got != streamingID([]byte("detection"), []byte("rule"), []byte(`{"a":1}`)) {
		t.Fatalf("ID = %s", got)
	}
	r := rand.New(rand.NewSource(1))
	// Texts around the stack buffer's size, and far over it.
	for _, n := range []int{0, 1, idStack - 40, idStack - 32, idStack - 31, idStack, 3 * idStack} {
		event := make([]byte, n)
		r.Read(event)
		parts := [][]byte{[]byte("detection"), []byte("8d6e7f8a-1b2c-4d5e-9f00-112233445566"), event}
		if got, want := ID(parts...), streamingID(parts...); got != want {
			t.Fatalf("%d-byte event: ID = %s, want %s", n, got, want)
		}
	}
	if got, want := ID(), streamingID(); got != want {
		t.Fatalf("no parts: ID = %s, want %s", got, want)
	}
}

// TestIDAllocatesOnlyItsString: ids are derived for every alert.
func TestIDAllocatesOnlyItsString(t *testing.T) {
	if race.Enabled {
		t.Skip("the race detector's instrumentation allocates")
	}
	event := make([]byte, 1600)
	kind, key := []byte("detection"), []byte("8d6e7f8a-1b2c-4d5e-9f00-112233445566")
	if n := testing.AllocsPerRun(100, func() { ID(kind, key, event) }); n != 1 {
		t.Fatalf("%v allocations, want 1 (the id)", n)
	}
}
