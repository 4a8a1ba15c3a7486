// Package correlate runs Sigma correlation rules (specification v2.1: event_count, value_count,
// temporal, temporal_ordered, value_sum, value_avg, value_percentile, value_median) over the
// detection alerts of the pipeline, in event time. The README's "Correlation" section is the
// user's description; this is the engine's.
//
// Every alert belongs to a group: the values of the rule's group-by fields (aliases applied per
// referenced rule). A group's state is the recent entries (event time, alert id and, by type, the
// value, number or rule position) sorted by event time, in an LRU of max_keys groups per rule.
//
// An alert more than allowed_lateness behind its partition's clock (alert.Watermark) is late:
// counted in a metric, logged, not used. Windows are decided on the stream's watermark (the
// argument of Process): a window is final once the watermark is more than allowed_lateness past
// its end, for no alert that may still count can then fall in it. Deciding only final windows
// makes the results those of the accepted alerts sorted by event time, whatever the arrival order.
//
// Rules whose aggregate only grows and whose condition is only gt/gte are eager: on every
// accepted entry the engine looks for the earliest-ending window of one timespan (both ends
// included) that holds the entry and meets the condition, and keeps the earliest as pending.
// Windows ending before it were looked at when their own entries came, so every interval is
// considered: sliding windows. When the pending window is final it fires, and the group mutes
// until its last event time plus the timespan: entries up to then belong to the burst that
// fired and are dropped, later ones start a new count.
//
// The other rules (an upper bound in the condition, or an average, median or percentile) are
// closing: a window opens at the group's earliest undecided entry and is decided once final (or
// at the end of the input, EndInput). The next window opens at the first entry after it.
//
// Rules are decided in dependency order, so a correlation fed by another sees its alerts (which
// are never late: they were decided when final) before it decides at the same watermark.
//
// State kept is exact: entries older than the watermark minus lateness minus timespan cannot
// share a window with an entry still to come and are dropped; for presence-only aggregates
// (value_count, temporal) the middle of three equal entries within one timespan is dropped,
// for every window holding it holds one of the others. A group holding max_events_per_key
// entries drops its oldest, the one approximation, counted in a metric.
//
// Snapshots (Engine.Snapshot, Checkpoint) save the groups with the Kafka offsets they reflect;
// New restores them for rules whose fingerprint is unchanged and skips alerts at or below those
// offsets once (replays after a crash).
package correlate
