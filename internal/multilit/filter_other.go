//go:build !amd64 || purego

package multilit

// scanVector: no vector filter on this architecture, or the purego build tag leaves the assembly
// out; Scan's loops do the work.
func (m *Matcher) scanVector(text []byte, hit func(id int), stop *bool) bool { return false }
