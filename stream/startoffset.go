package stream

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/segmentio/kafka-go"
)

// seedOffsetsByTime gives a consumer group that has no committed offset for a partition of its
// topics the offset of the first record at or after cfg.StartTime (the end of the partition when
// there is none), by committing it as a simple (generation -1) commit before the group is joined.
// kafka-go's group reader can only start at the first or last offset; committed offsets win over
// both, so this is how a group starts at a time. Partitions the group already has offsets for are
// left alone, and so is a group with live members (the broker refuses the commit; they already
// consume from somewhere).
func seedOffsetsByTime(ctx context.Context, cfg KafkaConfig, log *slog.Logger) error {
	c := &kafka.Client{Addr: kafka.TCP(cfg.Brokers...), Transport: cfg.Transport(), Timeout: 10 * time.Second}
	meta, err := c.Metadata(ctx, &kafka.MetadataRequest{Topics: cfg.Topics})
	if err != nil {
		return fmt.Errorf("kafka: start offset by time: metadata: %w", err)
	}
	parts := map[string][]int{}
	for _, t := range meta.Topics {
		if t.Error != nil {
			return fmt.Errorf("kafka: topic %s: %w", t.Name, t.Error)
		}
		for _, p := range t.Partitions {
			parts[t.Name] = append(parts[t.Name], p.ID)
		}
	}
	fetched, err := c.OffsetFetch(ctx, &kafka.OffsetFetchRequest{GroupID: cfg.Group, Topics: parts})
	if err != nil {
		return fmt.Errorf("kafka: start offset by time: fetch committed offsets of group %s: %w", cfg.Group, err)
	}
	committed := map[topicPartition]bool{}
	switch {
	case fetched.Error == nil:
		for topic, ps := range fetched.Topics {
			for _, p := range ps {
				if p.Error != nil {
					return fmt.Errorf("kafka: committed offset of %s/%d: %w", topic, p.Partition, p.Error)
				}
				if p.CommittedOffset >= 0 {
					committed[topicPartition{topic, p.Partition}] = true
				}
			}
		}
	case errors.Is(fetched.Error, kafka.GroupIdNotFound): // a group never seen: nothing committed
	default:
		return fmt.Errorf("kafka: start offset by time: group %s: %w", cfg.Group, fetched.Error)
	}
	byTime := map[string][]kafka.OffsetRequest{}
	atEnd := map[string][]kafka.OffsetRequest{}
	n := 0
	for topic, ps := range parts {
		for _, p := range ps {
			if committed[topicPartition{topic, p}] {
				continue
			}
			byTime[topic] = append(byTime[topic], kafka.TimeOffsetOf(p, cfg.StartTime))
			atEnd[topic] = append(atEnd[topic], kafka.LastOffsetOf(p))
			n++
		}
	}
	if n == 0 {
		return nil
	}
	found, err := c.ListOffsets(ctx, &kafka.ListOffsetsRequest{Topics: byTime})
	if err != nil {
		return fmt.Errorf("kafka: offsets at %s: %w", cfg.StartTime.Format(time.RFC3339), err)
	}
	ends, err := c.ListOffsets(ctx, &kafka.ListOffsetsRequest{Topics: atEnd})
	if err != nil {
		return fmt.Errorf("kafka: end offsets: %w", err)
	}
	end := map[topicPartition]int64{}
	for topic, ps := range ends.Topics {
		for _, p := range ps {
			if p.Error != nil {
				return fmt.Errorf("kafka: end offset of %s/%d: %w", topic, p.Partition, p.Error)
			}
			end[topicPartition{topic, p.Partition}] = p.LastOffset
		}
	}
	commits := map[string][]kafka.OffsetCommit{}
	for topic, ps := range found.Topics {
		for _, p := range ps {
			if p.Error != nil {
				return fmt.Errorf("kafka: offset at time of %s/%d: %w", topic, p.Partition, p.Error)
			}
			off := end[topicPartition{topic, p.Partition}]
			for o := range p.Offsets { // one entry when a record at or after the time exists
				off = o
			}
			commits[topic] = append(commits[topic], kafka.OffsetCommit{Partition: p.Partition, Offset: off})
			log.Info("new consumer group starts at a time", "group", cfg.Group, "topic", topic, "partition", p.Partition,
				"time", cfg.StartTime.Format(time.RFC3339Nano), "offset", off)
		}
	}
	resp, err := c.OffsetCommit(ctx, &kafka.OffsetCommitRequest{GroupID: cfg.Group, GenerationID: -1, Topics: commits})
	if err != nil {
		return fmt.Errorf("kafka: commit start offsets of group %s: %w", cfg.Group, err)
	}
	for topic, ps := range resp.Topics {
		for _, p := range ps {
			if p.Error != nil {
				log.Info("group is already consuming; start time ignored", "group", cfg.Group, "topic", topic,
					"partition", p.Partition, "reason", p.Error)
			}
		}
	}
	return nil
}
