package detect

import (
	"hash/maphash"
)

// The value cache. In real event streams most values recur (a host runs the same images, with
// the same hashes, companies and directories, all day), and what the candidate index finds in a
// value depends on the value alone. Each Matcher remembers, per indexed field, which literals its
// recent values held, so that a recurring value costs a hash and a comparison instead of a scan.
// Keys are compared in full: a hash collision cannot make the index skip a rule. A field whose
// values seldom recur (command lines of a busy host, GUIDs, times) is soon left alone: every
// cacheWindow lookups, a field that found fewer than a quarter of its values rests for cacheRest
// values before it is tried again.

const (
	cacheSlots    = 128      // per field, direct-mapped
	cacheArena    = 16 << 10 // bytes of remembered values per field, reused as a ring
	cacheMaxLits  = 6        // a value holding more literals is not remembered
	cacheMinValue = 16       // shorter values are scanned about as fast as they are hashed
	cacheMaxValue = cacheArena / 8
	cacheWindow   = 512
	cacheRest     = 8192
)

type valueCache struct {
	seed   maphash.Seed
	fields []*fieldCache // by position in index.fields, allocated on first use
	lits   []int32       // literals found while scanning a value about to be remembered
	// lookups and hits over the Matcher's life
	lookups, hits uint64
}

type fieldCache struct {
	slots         [cacheSlots]cacheSlot
	arena         [cacheArena]byte
	written       uint64 // bytes ever written to arena; a key written more than one arena ago is gone
	lookups, hits int    // in the current window
	rest          int    // values still to pass uncached
}

type cacheSlot struct {
	hash    uint64
	at      uint64 // where the value starts, counted in bytes written
	n       int    // value length; 0: empty
	nlits   int
	lits    [cacheMaxLits]int32
	present byteSet // byte atoms occurring in the value
}

func newValueCache(fields int) valueCache {
	return valueCache{seed: maphash.MakeSeed(), fields: make([]*fieldCache, fields)}
}

// lookup finds value in the cache of the field at position pos. fc is nil when the value is not
// to be cached (too short or long, or the field resting); otherwise sl is its slot, holding it
// when found, to be filled by remember when not.
func (c *valueCache) lookup(pos int32, value []byte) (fc *fieldCache, sl *cacheSlot, h uint64, found bool) {
	if len(value) < cacheMinValue || len(value) > cacheMaxValue {
		return nil, nil, 0, false
	}
	fc = c.fields[pos]
	if fc == nil {
		fc = new(fieldCache)
		c.fields[pos] = fc
	}
	if fc.rest > 0 {
		fc.rest--
		return nil, nil, 0, false
	}
	h = maphash.Bytes(c.seed, value)
	sl = &fc.slots[h%cacheSlots]
	found = sl.n == len(value) && sl.hash == h && fc.written-sl.at <= cacheArena &&
		string(fc.arena[sl.at%cacheArena:sl.at%cacheArena+uint64(sl.n)]) == string(value)
	fc.lookups++
	c.lookups++
	if found {
		fc.hits++
		c.hits++
	}
	if fc.lookups == cacheWindow {
		if fc.hits*4 < fc.lookups {
			fc.rest = cacheRest
		}
		fc.lookups, fc.hits = 0, 0
	}
	return fc, sl, h, found
}

// remember stores value, with hash h, the literals and byte atoms found in it, in sl.
func (fc *fieldCache) remember(sl *cacheSlot, h uint64, value []byte, lits []int32, present byteSet) {
	if len(lits) > cacheMaxLits {
		sl.n = 0
		return
	}
	off := fc.written % cacheArena
	if off+uint64(len(value)) > cacheArena {
		fc.written += cacheArena - off // keys never wrap: skip to the start
		off = 0
	}
	copy(fc.arena[off:], value)
	sl.hash, sl.at, sl.n = h, fc.written, len(value)
	fc.written += uint64(len(value))
	sl.nlits = copy(sl.lits[:], lits)
	sl.present = present
}
