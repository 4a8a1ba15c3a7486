package broker_test

import (
	"fmt"
	"path/filepath"
	"testing"

	"github.com/vigil-detect/vigil/broker"
	"github.com/vigil-detect/vigil/internal/kafkatest"
)

// TestDataDirSurvivesRestart: records written to a data directory, with and without fsync per
// batch, are read again by a broker started on the same directory.
func TestDataDirSurvivesRestart(t *testing.T) {
	for _, noFsync := range []bool{false, true} {
		t.Run(fmt.Sprintf("nofsync=%v", noFsync), func(t *testing.T) {
			dir := t.TempDir()
			opts := broker.Options{Addr: kafkatest.FreeAddr(t), Topics: []string{"events"}, Partitions: 2, DataDir: dir, NoFsync: noFsync}
			b, err := broker.Start(opts)
			if err != nil {
				t.Fatal(err)
			}
			var values [][]byte
			for i := range 50 {
				values = append(values, fmt.Appendf(nil, `{"n":%d}`, i))
			}
			kafkatest.Produce(t, b.Addr, "events", values)
			b.Close()
			if files, _ := filepath.Glob(filepath.Join(dir, "*")); len(files) == 0 {
				t.Fatalf("nothing written to %s", dir)
			}

			opts.Topics = nil // they exist on disk
			b, err = broker.Start(opts)
			if err != nil {
				t.Fatal(err)
			}
			defer b.Close()
			got := kafkatest.ReadToEnd(t, b.Addr, "events", 2)
			if len(got) != len(values) {
				t.Fatalf("read %d records after the restart, want %d", len(got), len(values))
			}
			seen := map[string]bool{}
			for _, m := range got {
				seen[string(m.Value)] = true
			}
			for _, v := range values {
				if !seen[string(v)] {
					t.Fatalf("record %s lost in the restart", v)
				}
			}
		})
	}
}
