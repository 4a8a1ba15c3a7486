//go:build !unix

package memtest

import "testing"

// GuardedPage skips t: guard pages are mapped on Unix systems only.
func GuardedPage(t testing.TB) []byte {
	t.Skip("guard pages are mapped on Unix systems only")
	return nil
}
