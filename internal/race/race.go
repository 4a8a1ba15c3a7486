//go:build race

// Package race tells tests whether the race detector is on: its instrumentation allocates, so
// tests that count allocations skip under it.
package race

// Enabled is true in binaries built with -race.
const Enabled = true
