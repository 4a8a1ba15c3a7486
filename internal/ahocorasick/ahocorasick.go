// Package ahocorasick finds many literal byte strings in a text in one pass.
//
// The automaton is compiled to a dense DFA over byte classes (bytes that no pattern uses share one
// class), so scanning costs one table load per input byte and allocates nothing.
package ahocorasick

// Builder collects patterns.
type Builder struct {
	patterns [][]byte
}

// Add registers a pattern and returns its id (ids are dense, in order of Add). Empty patterns are
// accepted and never reported.
func (b *Builder) Add(p []byte) int {
	b.patterns = append(b.patterns, append([]byte(nil), p...))
	return len(b.patterns) - 1
}

// Len is the number of patterns added.
func (b *Builder) Len() int { return len(b.patterns) }

// Automaton is an immutable compiled pattern set, safe for concurrent use.
type Automaton struct {
	classes   [256]uint8
	nclass    uint32
	delta     []uint32 // state*nclass + class → next state
	termStart []int32  // ids ending at state s are termIDs[termStart[s]:termStart[s+1]]
	termIDs   []int32
	dict      []int32 // nearest proper suffix state where a pattern ends, or -1
	reports   []bool  // state s ends a pattern itself or through dict
	patterns  int
}

// Build compiles the patterns.
func (b *Builder) Build() *Automaton {
	a := &Automaton{patterns: len(b.patterns)}
	var used [256]bool
	nused := 0
	for _, p := range b.patterns {
		for _, c := range p {
			if !used[c] {
				used[c] = true
				nused++
			}
		}
	}
	if nused == 256 {
		for c := range a.classes {
			a.classes[c] = uint8(c)
		}
		a.nclass = 256
	} else {
		a.nclass = 1 // class 0: bytes no pattern uses
		for c := 0; c < 256; c++ {
			if used[c] {
				a.classes[c] = uint8(a.nclass)
				a.nclass++
			}
		}
	}
	nc := int(a.nclass)

	// The trie: goto edges in the delta table itself (0 = no edge; the root is never a target).
	goTo := make([]uint32, nc)
	terms := [][]int32{nil}
	for id, p := range b.patterns {
		if len(p) == 0 {
			continue
		}
		s := 0
		for _, c := range p {
			e := s*nc + int(a.classes[c])
			if goTo[e] == 0 {
				goTo = append(goTo, make([]uint32, nc)...)
				terms = append(terms, nil)
				goTo[e] = uint32(len(terms) - 1)
			}
			s = int(goTo[e])
		}
		terms[s] = append(terms[s], int32(id))
	}
	n := len(terms)

	// Breadth-first: failure links, dictionary links, and the full DFA transitions.
	a.delta = make([]uint32, n*nc)
	a.dict = make([]int32, n)
	a.reports = make([]bool, n)
	fail := make([]uint32, n)
	queue := make([]uint32, 0, n)
	a.dict[0] = -1
	for cl := 0; cl < nc; cl++ {
		if t := goTo[cl]; t != 0 {
			a.delta[cl] = t
			queue = append(queue, t)
		}
	}
	for len(queue) > 0 {
		s := queue[0]
		queue = queue[1:]
		f := fail[s]
		if len(terms[f]) > 0 {
			a.dict[s] = int32(f)
		} else {
			a.dict[s] = a.dict[f]
		}
		a.reports[s] = len(terms[s]) > 0 || a.dict[s] >= 0
		for cl := 0; cl < nc; cl++ {
			e := int(s)*nc + cl
			if t := goTo[e]; t != 0 {
				if s != 0 {
					fail[t] = a.delta[int(f)*nc+cl]
				}
				a.delta[e] = t
				queue = append(queue, t)
			} else {
				a.delta[e] = a.delta[int(f)*nc+cl]
			}
		}
	}
	a.termStart = make([]int32, n+1)
	for s, ids := range terms {
		a.termStart[s] = int32(len(a.termIDs))
		a.termIDs = append(a.termIDs, ids...)
	}
	a.termStart[n] = int32(len(a.termIDs))
	return a
}

// Patterns is the number of patterns compiled in.
func (a *Automaton) Patterns() int { return a.patterns }

// States is the number of DFA states; the table takes States × Classes × 4 bytes.
func (a *Automaton) States() int { return len(a.dict) }

// Classes is the number of byte classes.
func (a *Automaton) Classes() int { return int(a.nclass) }

// Scan calls hit for every occurrence of every pattern in text (a pattern occurring twice is
// reported twice).
func (a *Automaton) Scan(text []byte, hit func(id int)) {
	if len(a.termIDs) == 0 {
		return
	}
	s := uint32(0)
	delta, classes, nc := a.delta, &a.classes, a.nclass
	for _, c := range text {
		s = delta[s*nc+uint32(classes[c])]
		if a.reports[s] {
			for st := int32(s); st >= 0; st = a.dict[st] {
				for _, id := range a.termIDs[a.termStart[st]:a.termStart[st+1]] {
					hit(int(id))
				}
			}
		}
	}
}
