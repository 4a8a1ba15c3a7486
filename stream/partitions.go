package stream

import (
	"context"
	"fmt"
	"time"

	"github.com/segmentio/kafka-go"
)

// Partitions lists the partitions of the source's topics, from the brokers' metadata. The
// pipeline's event-time watermark waits for each to deliver (or to stay idle: it may belong to
// another member of the group) before moving past it.
func (s *KafkaSource) Partitions(ctx context.Context) (map[string][]int, error) {
	c := &kafka.Client{Addr: kafka.TCP(s.cfg.Brokers...), Transport: s.cfg.Transport(), Timeout: 10 * time.Second}
	meta, err := c.Metadata(ctx, &kafka.MetadataRequest{Topics: s.cfg.Topics})
	if err != nil {
		return nil, fmt.Errorf("kafka: metadata: %w", err)
	}
	out := map[string][]int{}
	for _, t := range meta.Topics {
		if t.Error != nil {
			return nil, fmt.Errorf("kafka: topic %s: %w", t.Name, t.Error)
		}
		for _, p := range t.Partitions {
			out[t.Name] = append(out[t.Name], p.ID)
		}
	}
	return out, nil
}
