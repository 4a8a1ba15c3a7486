package stream

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/vigil-detect/vigil/alert"
	"github.com/vigil-detect/vigil/broker"
	"github.com/vigil-detect/vigil/internal/kafkatest"
)

func readOne(t *testing.T, addr, topic string) kafka.Message {
	t.Helper()
	r := kafka.NewReader(kafka.ReaderConfig{Brokers: []string{addr}, Topic: topic, Partition: 0, MaxWait: 100 * time.Millisecond})
	defer r.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	m, err := r.ReadMessage(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestOversizedRecordsAreCutNotRetriedForever: a dead-letter record or an alert over
// MaxMessageBytes is written cut down (with a header saying so) instead of failing on every
// retry, which would stop the pipeline.
func TestOversizedRecordsAreCutNotRetriedForever(t *testing.T) {
	b, err := broker.Start(broker.Options{Topics: []string{"dead", "alerts"}, Partitions: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	kc := KafkaConfig{Brokers: []string{b.Addr}}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	dl, err := NewKafkaDeadLetterWith(kc, WriterConfig{Topic: "dead", MaxMessageBytes: 10_000})
	if err != nil {
		t.Fatal(err)
	}
	defer dl.Close()
	big := []byte(`{"pad":"` + strings.Repeat("x", 3<<20) + `"}`) // over the broker's 1 MiB too
	rec := Rejected{Record: Record{Value: big, Topic: "events", Partition: 1, Offset: 42}, Reason: "too_large", Error: "too large"}
	if err := dl.Reject(ctx, []Rejected{rec}); err != nil {
		t.Fatalf("dead-letter write: %v", err)
	}
	m := readOne(t, b.Addr, "dead")
	if len(m.Value) >= 10_000 || !strings.HasPrefix(string(big), string(m.Value)) {
		t.Errorf("dead-letter value of %d bytes, want a prefix under 10000", len(m.Value))
	}
	if kafkatest.Header(m, "vigil-truncated-from") != "3145738" || kafkatest.Header(m, "vigil-source-offset") != "42" || kafkatest.Header(m, "vigil-error-reason") != "too_large" {
		t.Errorf("headers %v", m.Headers)
	}

	sink, err := NewKafkaSink(kc, WriterConfig{Topic: "alerts", MaxMessageBytes: 10_000})
	if err != nil {
		t.Fatal(err)
	}
	defer sink.Close()
	a := &alert.Alert{ID: "abc", Kind: alert.KindDetection, Event: json.RawMessage(`{"CommandLine":"` + strings.Repeat("y", 50_000) + `"}`),
		Source: &alert.Source{Topic: "events", Partition: 1, Offset: 7}}
	if err := sink.Write(ctx, []*alert.Alert{a}); err != nil {
		t.Fatalf("alert write: %v", err)
	}
	m = readOne(t, b.Addr, "alerts")
	var got struct {
		ID     string
		Event  map[string]any
		Source struct{ Offset int64 }
	}
	if err := json.Unmarshal(m.Value, &got); err != nil {
		t.Fatal(err)
	}
	if got.ID != "abc" || got.Event["vigil_truncated"] != true || got.Source.Offset != 7 || kafkatest.Header(m, "vigil-event-truncated") != "true" {
		t.Errorf("cut alert: %.300s headers %v", m.Value, m.Headers)
	}
}

// TestManyAlertsInOneWrite: thousands of alerts written in one call (batches coalesced under
// load) are split into record batches the broker accepts, instead of one it refuses forever.
func TestManyAlertsInOneWrite(t *testing.T) {
	b, err := broker.Start(broker.Options{Topics: []string{"alerts"}, Partitions: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	sink, err := NewKafkaSink(KafkaConfig{Brokers: []string{b.Addr}}, WriterConfig{Topic: "alerts"})
	if err != nil {
		t.Fatal(err)
	}
	defer sink.Close()
	event := json.RawMessage(`{"pad":"` + strings.Repeat("x", 1500) + `"}`)
	alerts := make([]*alert.Alert, 4000) // about 6 MB
	for i := range alerts {
		alerts[i] = &alert.Alert{ID: alert.ID([]byte{byte(i), byte(i >> 8)}), Kind: alert.KindDetection, Event: event, Time: time.Unix(int64(i), 0)}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := sink.Write(ctx, alerts); err != nil {
		t.Fatalf("write: %v", err)
	}
}

// TestSinkRecordsCarryTheirOwnKeysAndHeaders: a batch's keys, header values and headers share
// one buffer and one array; each record must still get its own, the cut one its extra header.
func TestSinkRecordsCarryTheirOwnKeysAndHeaders(t *testing.T) {
	b, err := broker.Start(broker.Options{Topics: []string{"alerts"}, Partitions: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	sink, err := NewKafkaSink(KafkaConfig{Brokers: []string{b.Addr}}, WriterConfig{Topic: "alerts", MaxMessageBytes: 10_000})
	if err != nil {
		t.Fatal(err)
	}
	defer sink.Close()
	const n = 40
	alerts := make([]*alert.Alert, n)
	for i := range alerts {
		a := &alert.Alert{ID: fmt.Sprintf("id-%d", i), Kind: alert.KindDetection, Rule: alert.Rule{ID: fmt.Sprintf("rule-%d", i)},
			Event: json.RawMessage(`{"i":` + strconv.Itoa(i) + `}`)}
		if i%3 == 0 {
			a.Kind = alert.KindCorrelation
			a.Headers = []alert.Header{{Key: "x-extra", Value: []byte(fmt.Sprint("extra-", i))}}
		}
		if i == 17 {
			a.Event = json.RawMessage(`{"pad":"` + strings.Repeat("z", 20_000) + `"}`)
		}
		alerts[i] = a
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := sink.Write(ctx, alerts); err != nil {
		t.Fatal(err)
	}
	r := kafka.NewReader(kafka.ReaderConfig{Brokers: []string{b.Addr}, Topic: "alerts", Partition: 0, MaxWait: 100 * time.Millisecond})
	defer r.Close()
	for i := range n {
		m, err := r.ReadMessage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		a := alerts[i]
		if string(m.Key) != a.ID || kafkatest.Header(m, "vigil-kind") != a.Kind || kafkatest.Header(m, "vigil-rule-id") != a.Rule.ID ||
			kafkatest.Header(m, "vigil-format") != "vigil" {
			t.Fatalf("record %d: key %q headers %v", i, m.Key, m.Headers)
		}
		if want := fmt.Sprint("extra-", i); i%3 == 0 && kafkatest.Header(m, "x-extra") != want {
			t.Errorf("record %d: x-extra %q, want %q", i, kafkatest.Header(m, "x-extra"), want)
		}
		if cut := kafkatest.Header(m, "vigil-event-truncated") == "true"; cut != (i == 17) {
			t.Errorf("record %d: truncated header %v", i, cut)
		}
	}
}
