package crashtest

import (
	"math/rand/v2"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/vigil-detect/vigil/broker"
	"github.com/vigil-detect/vigil/internal/kafkatest"
)

// TestCrashRestart kills `vigil run` with SIGKILL at random moments while events are produced,
// restarts it each time, and then checks that the alerts topic holds exactly the alerts eval
// computes for the same events (duplicates allowed, byte-identical), that every malformed
// record was dead-lettered with its reason, and that every offset was committed.
//
// Defaults suit CI (6 kills, 12 chunks of 2000 events); VIGIL_CRASH_KILLS, VIGIL_CRASH_CHUNKS and
// VIGIL_CRASH_SEED change them for a long run.
func TestCrashRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("the crash test runs vigil as a child process; skipped with -short")
	}
	kills := int(envInt("VIGIL_CRASH_KILLS", 6))
	chunks := int(envInt("VIGIL_CRASH_CHUNKS", 12))
	seed := envInt("VIGIL_CRASH_SEED", time.Now().UnixNano())
	const perChunk = 2000
	t.Logf("seed %d (VIGIL_CRASH_SEED), %d kills, %d chunks of %d events", seed, kills, chunks, perChunk)
	rng := rand.New(rand.NewPCG(uint64(seed), 0))

	bin := vigilBinary(t)
	b, err := broker.Start(broker.Options{Topics: []string{eventsTopic, alertsTopic, deadTopic}, Partitions: partitions})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	rulesDir := detectionRules(t)
	const group = "crash"
	cfg := agentConfig(t, b.Addr, rulesDir, group)

	var all [][]byte
	var bad []badRecord
	data := make([][][]byte, chunks)
	for i := range data {
		events, br := chunk(i, perChunk, seed)
		data[i] = events
		all = append(all, events...)
		bad = append(bad, br...)
	}
	expected := expectedAlerts(t, rulesDir, all)
	if len(expected) < chunks*20 {
		t.Fatalf("eval gives only %d alerts for %d chunks: the story did not fire", len(expected), chunks)
	}

	// The producer spreads the chunks over the kill phase so that kills land while records
	// arrive, are evaluated, written and committed.
	start := time.Now()
	produced := make(chan struct{})
	gap := time.Duration(kills) * 2350 * time.Millisecond / time.Duration(chunks)
	go func() {
		defer close(produced)
		for _, c := range data {
			kafkatest.Produce(t, b.Addr, eventsTopic, c)
			time.Sleep(gap)
		}
	}()

	var outputs []string
	for k := 0; k < kills; k++ {
		before := committedTotal(b.Addr, group)
		c := startChild(t, bin, "run", "--config", cfg)
		mode := "at random"
		if k%2 == 0 {
			// Any moment in the first 4.5 s: start-up, the group join, processing.
			time.Sleep(time.Duration(200+rng.IntN(4300)) * time.Millisecond)
		} else {
			// While processing: once this run has committed something, within 300 ms.
			mode = "while processing"
			deadline := time.Now().Add(15 * time.Second)
			for committedTotal(b.Addr, group) == before && time.Now().Before(deadline) {
				time.Sleep(20 * time.Millisecond)
			}
			time.Sleep(time.Duration(rng.IntN(300)) * time.Millisecond)
		}
		c.cmd.Process.Signal(syscall.SIGKILL)
		<-c.done
		outputs = append(outputs, c.output())
		t.Logf("kill %d (%s) at %v: %d records committed, %d in the topic", k+1, mode, time.Since(start).Round(time.Millisecond),
			committedTotal(b.Addr, group), sum(kafkatest.EndOffsets(t, b.Addr, eventsTopic, partitions)))
	}
	<-produced
	c := startChild(t, bin, "run", "--config", cfg)
	c.waitOutput(t, "consuming", 30*time.Second)
	waitCommitted(t, b.Addr, group, eventsTopic, 90*time.Second, c.output)
	if err := c.stop(t, os.Interrupt, 60*time.Second); err != nil {
		t.Fatalf("vigil exited with %v after SIGINT:\n%s", err, tail(c.output(), 4000))
	}

	alerts := kafkatest.ReadToEnd(t, b.Addr, alertsTopic, partitions)
	records, dups := checkAlerts(t, alerts, expected)
	dead := checkDeadLetters(t, kafkatest.ReadToEnd(t, b.Addr, deadTopic, partitions), bad)
	t.Logf("%d events (%d malformed), %d kills in %v; %d expected alerts, %d alert records (%d duplicates), %d dead-letter records",
		len(all), len(bad), kills, time.Since(start).Round(time.Millisecond), len(expected), records, dups, dead)
	if t.Failed() {
		for i, o := range outputs {
			t.Logf("run %d output:\n%s", i, tail(o, 2000))
		}
	}
}

func sum(m map[int]int64) int64 {
	var n int64
	for _, v := range m {
		n += v
	}
	return n
}

// committedTotal is the number of records the group has committed over all partitions.
func committedTotal(addr, group string) int64 {
	done, _ := kafkatest.Committed(addr, group, eventsTopic, partitions)
	var n int64
	for _, v := range done {
		n += max(v, 0)
	}
	return n
}
