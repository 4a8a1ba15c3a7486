package detect

import (
	"bytes"
	"testing"
)

// The corpus benchmarks run the SigmaHQ detection corpus (rules/, rules-threat-hunting/,
// rules-emerging-threats/) over real and generated events; see BENCHMARKS.md for the numbers.

// warmUp matches events (once each, and at least twice narrowAfter in all) and waits for the
// narrowed indexes they asked for: the benchmarks time the steady state of a long stream.
func warmUp(e *Engine, m *Matcher, events [][]byte) {
	for i := range max(len(events), 2*narrowAfter) {
		m.Match(events[i%len(events)])
	}
	e.WaitNarrowing()
}

// benchCorpus matches events in a loop. The value cache is off for sets of a few hundred events,
// whose values would all be found in it from the second pass on: real streams do not repeat so.
func benchCorpus(b *testing.B, events [][]byte, cache bool) {
	e := Compile(corpusRules(b), Options{})
	m := e.NewMatcher()
	m.CacheValues(cache)
	size := 0
	for _, ev := range events {
		size += len(ev)
	}
	b.SetBytes(int64(size / len(events)))
	b.ReportAllocs()
	warmUp(e, m, events)
	b.ResetTimer()
	matches := 0
	for i := 0; b.Loop(); i++ {
		got, _ := m.Match(events[i%len(events)])
		matches += len(got)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
	b.ReportMetric(float64(matches)/float64(b.N), "matches/event")
	if lookups, hits := m.ValueCacheStats(); lookups > 0 {
		b.ReportMetric(100*float64(hits)/float64(lookups), "%cached")
	}
}

// BenchmarkCorpusSysmonProcessCreation: real Sysmon process-creation events (EventID 1) from the
// SigmaHQ regression set.
func BenchmarkCorpusSysmonProcessCreation(b *testing.B) {
	var evs [][]byte
	for _, ev := range regressionEvents(b) {
		if bytes.Contains(ev, []byte(`"EventID":1,`)) && bytes.Contains(ev, []byte(`Sysmon/Operational`)) {
			evs = append(evs, ev)
		}
	}
	benchCorpus(b, evs, false)
}

// BenchmarkCorpusRegression: every event of the SigmaHQ regression set (all logsources).
func BenchmarkCorpusRegression(b *testing.B) { benchCorpus(b, regressionEvents(b), false) }

// BenchmarkCorpusGenerated: the generated Windows stream (background plus attack story), whose
// values recur as a domain's do, with the value cache and without.
func BenchmarkCorpusGenerated(b *testing.B) {
	evs := generatedEvents(20000)
	b.Run("cache", func(b *testing.B) { benchCorpus(b, evs, true) })
	b.Run("nocache", func(b *testing.B) { benchCorpus(b, evs, false) })
}

// BenchmarkCorpusParallel: the process-creation events on every core, one Matcher each.
func BenchmarkCorpusParallel(b *testing.B) {
	var evs [][]byte
	for _, ev := range regressionEvents(b) {
		if bytes.Contains(ev, []byte(`"EventID":1,`)) {
			evs = append(evs, ev)
		}
	}
	e := Compile(corpusRules(b), Options{})
	warmUp(e, e.NewMatcher(), evs)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		m := e.NewMatcher()
		m.CacheValues(false) // 84 events replayed: see benchCorpus
		for i := 0; pb.Next(); i++ {
			_, _ = m.Match(evs[i%len(evs)])
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkCompileCorpus: compiling the whole corpus (start-up and reload cost).
func BenchmarkCompileCorpus(b *testing.B) {
	rs := corpusRules(b)
	b.ReportAllocs()
	for b.Loop() {
		Compile(rs, Options{})
	}
}
