// Package stream moves records in and alerts out: Kafka consumer groups and producers
// (segmentio/kafka-go), NDJSON files and standard input/output.
package stream

import (
	"context"
	"time"

	"github.com/vigil-detect/vigil/alert"
)

// Record is one input event with its origin.
type Record struct {
	Value     []byte
	Key       []byte
	Headers   []Header
	Topic     string // "" for files and stdin
	Partition int
	Offset    int64 // Kafka offset, or line number for files
	Time      time.Time
	HighWater int64 // partition high-water mark when fetched (Kafka), else -1
}

// Header is a Kafka record header (the same type alerts carry their source's headers in).
type Header = alert.Header

// Source yields records and takes back processed positions.
type Source interface {
	// Fetch appends at least one record (waiting for it) and then whatever more is ready, up
	// to max. It returns io.EOF once a finite source is exhausted.
	Fetch(ctx context.Context, dst []Record, max int) ([]Record, error)
	// Done marks records as processed: their alerts are written. Records of one partition are
	// marked in order.
	Done(records []Record)
	// Commit makes every position marked done durable (Kafka: commits the group's offsets).
	Commit(ctx context.Context) error
	Close() error
}

// Sink receives alerts; when Write returns nil the alerts are durable (acknowledged).
type Sink interface {
	Write(ctx context.Context, alerts []*alert.Alert) error
	Close() error
}

// DeadLetter receives records that could not be processed, with the reason.
type DeadLetter interface {
	Reject(ctx context.Context, recs []Rejected) error
	Close() error
}

// Rejected is a record that failed, and why.
type Rejected struct {
	Record Record
	Reason string // stable label: invalid_json, not_object, invalid_utf8, too_large, too_deep, ...
	Error  string
	// Evaluated is set for records that were evaluated all the same (bad_timestamp,
	// unexpected_type): the copy tells the producer, the alerts were written as usual.
	Evaluated bool
}
