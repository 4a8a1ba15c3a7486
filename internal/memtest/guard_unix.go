//go:build unix

package memtest

import (
	"syscall"
	"testing"
)

// GuardedPage returns one page of writable memory followed by a page mapped without access: a
// slice ending at the returned slice's end ends at the guard. It skips t where the system cannot
// map one, and unmaps both pages when t ends.
func GuardedPage(t testing.TB) []byte {
	t.Helper()
	size := syscall.Getpagesize()
	mem, err := syscall.Mmap(-1, 0, 2*size, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	if err != nil {
		t.Skip("cannot map memory:", err)
	}
	t.Cleanup(func() { syscall.Munmap(mem) })
	if err := syscall.Mprotect(mem[size:], syscall.PROT_NONE); err != nil {
		t.Skip("cannot protect memory:", err)
	}
	return mem[:size:size]
}
