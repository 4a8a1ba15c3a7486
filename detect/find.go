package detect

import "bytes"

// Substring search keyed on a literal's rarest byte. bytes.Index looks for a literal's first
// byte and compares from each occurrence; the literals rules search command lines and paths for
// mostly start with a byte those are full of (`\`, a space, `-`, `.`), so it stops and compares
// at nearly every path separator. Looking for the byte least frequent in such text instead stops
// rarely, and a comparison then usually succeeds.

// textByteOrder lists the folded bytes of command lines, paths and script text from the most
// frequent (counted over the SigmaHQ regression events' command-line, image, file-name, path,
// registry and script fields); bytes not listed are rarer than all of them.
const textByteOrder = `es\ocdtnwriam .lxp:23y0u"h-bfg1/vk4576_89q()jz%',=~;|{}*$&@?[]+`

// byteRank orders bytes by frequency in event text: higher is rarer.
var byteRank = func() (r [256]uint8) {
	for i := range r {
		r[i] = 255
	}
	for i := range len(textByteOrder) {
		r[textByteOrder[i]] = uint8(i)
	}
	return r
}()

// rareOffset returns the position in lit of its rarest byte (the first, on a tie), within
// maxRareOffset.
func rareOffset(lit []byte) uint16 {
	best := 0
	for i := 1; i < len(lit) && i <= maxRareOffset; i++ {
		if byteRank[lit[i]] > byteRank[lit[best]] {
			best = i
		}
	}
	return uint16(best)
}

const maxRareOffset = 1<<16 - 1

// finder is a literal with the position of its rarest byte.
type finder struct {
	lit  []byte
	rare uint16
}

func newFinder(lit []byte) finder { return finder{lit: lit, rare: rareOffset(lit)} }

func (f finder) String() string { return string(f.lit) }

// in reports whether s contains the literal.
func (f *finder) in(s []byte) bool { return containsRare(s, f.lit, int(f.rare)) }

// containsRare reports whether s contains lit, whose rarest byte is lit[rare]: it jumps between
// occurrences of that byte, comparing the literal around each.
func containsRare(s, lit []byte, rare int) bool {
	n := len(lit)
	if n == 0 {
		return true
	}
	last := len(s) - n // the last place lit can start
	if last < 0 {
		return false
	}
	c := lit[rare]
	for i := 0; i <= last; i++ {
		j := bytes.IndexByte(s[i+rare:last+rare+1], c)
		if j < 0 {
			return false
		}
		i += j
		if string(s[i:i+n]) == string(lit) {
			return true
		}
	}
	return false
}

// containsAny reports whether b contains one of the literals.
func containsAny(b []byte, fs []finder) bool {
	for i := range fs {
		if fs[i].in(b) {
			return true
		}
	}
	return false
}
