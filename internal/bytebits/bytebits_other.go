//go:build !amd64 || purego

package bytebits

// unionVector: the loop does the work on this architecture, or the purego build tag leaves the
// assembly out.
func unionVector(text []byte, table *[256]uint8) (uint64, bool) { return 0, false }
