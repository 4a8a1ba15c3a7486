// Package bytebits gathers, over a text, the bit each of its bytes stands for: the candidate
// index keeps its one- and two-byte literals (`^`, `>`, Cyrillic letters) as byte atoms, and asks
// which of them a value holds.
package bytebits

// Union returns the union of 1<<(table[c]&63) over the bytes c of text.
func Union(text []byte, table *[256]uint8) uint64 {
	if bits, ok := unionVector(text, table); ok {
		return bits
	}
	return unionLoop(text, table)
}

// unionLoop is Union one byte at a time: a table load and an OR each.
func unionLoop(text []byte, table *[256]uint8) uint64 {
	var set uint64
	for _, c := range text {
		set |= 1 << (table[c] & 63)
	}
	return set
}
