//go:build !amd64

package multilit

// scanVector: no vector filter on this architecture; Scan's loops do the work.
func (m *Matcher) scanVector(text []byte, hit func(id int)) bool { return false }
