// Package kafkatest holds the Kafka chores tests share: producing a stream, reading a topic to its
// end, and asking a broker for end and committed offsets. Only tests import it.
package kafkatest

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
)

// Produce writes values to topic, spread round-robin over its partitions, and waits for every
// acknowledgement.
func Produce(t testing.TB, addr, topic string, values [][]byte) {
	t.Helper()
	w := &kafka.Writer{Addr: kafka.TCP(addr), Topic: topic, Balancer: &kafka.RoundRobin{},
		BatchTimeout: 2 * time.Millisecond, BatchSize: 500, BatchBytes: 4 << 20, RequiredAcks: kafka.RequireAll}
	defer w.Close()
	msgs := make([]kafka.Message, len(values))
	for i, v := range values {
		msgs[i] = kafka.Message{Value: v}
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := w.WriteMessages(ctx, msgs...); err != nil {
		t.Fatalf("produce to %s: %v", topic, err)
	}
}

// EndOffsets returns the high-water mark of partitions 0..partitions-1 of topic.
func EndOffsets(t testing.TB, addr, topic string, partitions int) map[int]int64 {
	t.Helper()
	out := map[int]int64{}
	for p := 0; p < partitions; p++ {
		conn, err := kafka.DialLeader(context.Background(), "tcp", addr, topic, p)
		if err != nil {
			t.Fatal(err)
		}
		last, err := conn.ReadLastOffset()
		conn.Close()
		if err != nil {
			t.Fatal(err)
		}
		out[p] = last
	}
	return out
}

// Committed returns the group's committed offset per partition of topic (-1 when none).
func Committed(addr, group, topic string, partitions int) (map[int]int64, error) {
	c := &kafka.Client{Addr: kafka.TCP(addr), Timeout: 5 * time.Second}
	parts := make([]int, partitions)
	for i := range parts {
		parts[i] = i
	}
	resp, err := c.OffsetFetch(context.Background(), &kafka.OffsetFetchRequest{GroupID: group, Topics: map[string][]int{topic: parts}})
	if err != nil {
		return nil, err
	}
	out := map[int]int64{}
	for _, p := range resp.Topics[topic] {
		out[p.Partition] = p.CommittedOffset
	}
	return out, nil
}

// AllCommitted reports whether committed reaches the end offsets; an empty partition (end 0)
// has nothing to commit, so "never committed" (-1) counts for it.
func AllCommitted(committed, ends map[int]int64) bool {
	for p, end := range ends {
		if committed[p] != end && !(end == 0 && committed[p] < 0) {
			return false
		}
	}
	return true
}

// ReadToEnd reads every record of topic up to its current end.
func ReadToEnd(t testing.TB, addr, topic string, partitions int) []kafka.Message {
	t.Helper()
	ends := EndOffsets(t, addr, topic, partitions)
	var out []kafka.Message
	for p := 0; p < partitions; p++ {
		if ends[p] == 0 {
			continue
		}
		r := kafka.NewReader(kafka.ReaderConfig{Brokers: []string{addr}, Topic: topic, Partition: p,
			MinBytes: 1, MaxBytes: 16 << 20, MaxWait: 100 * time.Millisecond})
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		for {
			m, err := r.ReadMessage(ctx)
			if err != nil {
				t.Fatalf("read %s/%d: %v", topic, p, err)
			}
			out = append(out, m)
			if m.Offset+1 >= ends[p] {
				break
			}
		}
		cancel()
		r.Close()
	}
	return out
}

// Header returns the value of a record header ("" when absent).
func Header(m kafka.Message, key string) string {
	for _, h := range m.Headers {
		if h.Key == key {
			return string(h.Value)
		}
	}
	return ""
}

// FreeAddr returns a 127.0.0.1 address nothing listens on right now.
func FreeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}
