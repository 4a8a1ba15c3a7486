// Package rsyslog_test runs the example as an operator would: a real rsyslogd with its Kafka
// output forwards sshd authentication lines into Vigil's broker, and the agent, configured with
// vigil.yaml, turns them into alerts.
package rsyslog_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/vigil-detect/vigil/agent"
	"github.com/vigil-detect/vigil/broker"
	"github.com/vigil-detect/vigil/config"
	"github.com/vigil-detect/vigil/internal/syncbuf"
)

// rsyslogd finds the daemon and its Kafka output module, or skips.
func rsyslogd(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("rsyslogd")
	if err != nil {
		if _, serr := os.Stat("/usr/sbin/rsyslogd"); serr != nil {
			t.Skip("rsyslogd not installed (Debian packages rsyslog and rsyslog-kafka; .ci/run installs them)")
		}
		bin = "/usr/sbin/rsyslogd"
	}
	mods, _ := filepath.Glob("/usr/lib/*/rsyslog/omkafka.so")
	more, _ := filepath.Glob("/usr/lib/rsyslog/omkafka.so")
	if len(mods)+len(more) == 0 {
		t.Skip("rsyslog's Kafka output (omkafka.so) not installed (Debian package rsyslog-kafka)")
	}
	return bin
}

func TestRsyslogToVigil(t *testing.T) {
	bin := rsyslogd(t)
	b, err := broker.Start(broker.Options{Topics: []string{"auth", "vigil-alerts", "vigil-dead-letter"}, Partitions: 3})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()

	// rsyslog: a TCP syslog input on a free port and the shipped drop-in, pointed at the broker.
	dir := t.TempDir()
	dropIn, err := os.ReadFile("60-vigil-kafka.conf")
	if err != nil {
		t.Fatal(err)
	}
	dropIn = bytes.Replace(dropIn, []byte(`broker=["127.0.0.1:9092"]`), fmt.Appendf(nil, `broker=["%s"]`, b.Addr), 1)
	if err := os.WriteFile(filepath.Join(dir, "60-vigil-kafka.conf"), dropIn, 0o644); err != nil {
		t.Fatal(err)
	}
	port := freePort(t)
	conf := fmt.Sprintf(`global(workDirectory="%s")
module(load="imtcp")
input(type="imtcp" address="127.0.0.1" port="%d")
include(file="%s")
`, dir, port, filepath.Join(dir, "60-vigil-kafka.conf"))
	confPath := filepath.Join(dir, "rsyslog.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(bin, "-N1", "-f", confPath).CombinedOutput(); err != nil {
		t.Fatalf("rsyslogd -N1 rejects the configuration: %v\n%s", err, out)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var rlog syncbuf.Buffer // rsyslogd's output, for failure messages
	cmd := exec.CommandContext(ctx, bin, "-n", "-iNONE", "-f", confPath)
	cmd.Stdout, cmd.Stderr = &rlog, &rlog
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	}()
	conn := dialRetry(t, fmt.Sprintf("127.0.0.1:%d", port), &rlog)
	defer conn.Close()

	// Vigil, configured with the example's file.
	cfg, err := config.Parse("vigil.yaml", func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	cfg.Rules = []string{"rules"} // the file's path is relative to the repository root
	cfg.Kafka.Brokers = []string{b.Addr}
	cfg.Metrics.Addr = "127.0.0.1:0"
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	a := &agent.Agent{Config: cfg, Log: log}
	if err := a.Start(); err != nil {
		a.Close()
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(context.Background())
	runDone := make(chan error, 1)
	go func() { runDone <- a.Run(runCtx) }()

	// sshd, as it reaches rsyslog: 12 failed passwords from one address within a minute, one
	// from another, a successful login, and a cron line that is not auth (rsyslog keeps it).
	const attacker, other = "203.0.113.66", "198.51.100.7"
	now := time.Now().Add(-time.Minute)
	var lines []string
	for i := 0; i < 12; i++ {
		user := []string{"root", "admin", "oracle"}[i%3]
		lines = append(lines, fmt.Sprintf("<38>%s web-1 sshd[%d]: Failed password for invalid user %s from %s port %d ssh2",
			now.Add(time.Duration(i)*time.Second).Format(time.Stamp), 4100+i, user, attacker, 50000+i))
	}
	lines = append(lines,
		fmt.Sprintf("<38>%s web-1 sshd[4200]: Failed password for alice from %s port 40022 ssh2", now.Format(time.Stamp), other),
		fmt.Sprintf("<86>%s web-1 sshd[4201]: Accepted publickey for alice from %s port 40023 ssh2", now.Format(time.Stamp), other),
		fmt.Sprintf("<78>%s web-1 CRON[4202]: (root) CMD (run-parts /etc/cron.hourly)", now.Format(time.Stamp)))
	if _, err := io.WriteString(conn, strings.Join(lines, "\n")+"\n"); err != nil {
		t.Fatal(err)
	}

	// With a correlation stage the brute force (10 failures from one address in 5 minutes) also
	// alerts, once its window is final: the allowed lateness after it, event time passing with
	// the wall clock while the stream is quiet.
	rs, err := agent.CompileRules(cfg)
	if err != nil {
		t.Fatal(err)
	}
	stages, closeStages, err := agent.Stages(cfg, rs, log, nil)
	if err != nil {
		t.Fatal(err)
	}
	closeStages()
	const wantDetections = 13
	want := wantDetections
	if len(stages) > 0 {
		want++
	}
	got := readAlerts(t, b.Addr, want, 30*time.Second)
	stop()
	if err := <-runDone; err != nil {
		t.Fatalf("agent: %v", err)
	}
	if t.Failed() {
		return
	}
	type alertJSON struct {
		Kind     string
		Rule     struct{ Title string }
		Entities struct{ IP, User, Host []string }
		Event    map[string]any
		Group    map[string]string
		Source   struct{ Topic string }
	}
	var detections, correlations []alertJSON
	for _, m := range got {
		var al alertJSON
		if err := json.Unmarshal(m.Value, &al); err != nil {
			t.Fatalf("alert %s: %v", m.Value, err)
		}
		switch al.Kind {
		case "detection":
			detections = append(detections, al)
		case "correlation":
			correlations = append(correlations, al)
		}
	}
	if len(detections) != wantDetections {
		t.Fatalf("%d detection alerts, want %d (rsyslog log:\n%s)", len(detections), wantDetections, rlog.String())
	}
	perIP := map[string]int{}
	for _, d := range detections {
		ev := d.Event
		if d.Rule.Title != "SSH Failed Password" || d.Source.Topic != "auth" || ev["appname"] != "sshd" ||
			ev["hostname"] != "web-1" || ev["facility"] != "auth" || ev["src_ip"] == nil || ev["user"] == nil {
			t.Errorf("detection alert: %+v", d)
		}
		if len(d.Entities.IP) != 1 || d.Entities.IP[0] != ev["src_ip"] || len(d.Entities.Host) != 1 {
			t.Errorf("entities %+v of %v", d.Entities, ev)
		}
		perIP[fmt.Sprint(ev["src_ip"])]++
	}
	if perIP[attacker] != 12 || perIP[other] != 1 {
		t.Errorf("alerts per source address: %v", perIP)
	}

	if len(stages) == 0 {
		if len(correlations) != 0 {
			t.Errorf("correlation alerts without a correlation stage: %+v", correlations)
		}
		t.Log("this build has no correlation stage: only the detection alerts were checked")
		return
	}
	if len(correlations) != 1 || correlations[0].Group["src_ip"] != attacker || correlations[0].Rule.Title != "SSH Brute Force From One Address" {
		t.Errorf("brute-force correlation: %+v", correlations)
	}
}

func freePort(t *testing.T) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func dialRetry(t *testing.T, addr string, rlog *syncbuf.Buffer) net.Conn {
	deadline := time.Now().Add(15 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			return c
		}
		if time.Now().After(deadline) {
			t.Fatalf("rsyslogd does not listen on %s: %v\n%s", addr, err, rlog.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// readAlerts reads the alerts topic until at least want alerts arrived and no more come for a
// second (so extra alerts are seen too), or within passed.
func readAlerts(t *testing.T, addr string, want int, within time.Duration) []kafka.Message {
	t.Helper()
	var readers []*kafka.Reader
	for p := 0; p < 3; p++ {
		readers = append(readers, kafka.NewReader(kafka.ReaderConfig{Brokers: []string{addr}, Topic: "vigil-alerts", Partition: p,
			MinBytes: 1, MaxBytes: 10 << 20, MaxWait: 100 * time.Millisecond}))
	}
	defer func() {
		for _, r := range readers {
			r.Close()
		}
	}()
	var out []kafka.Message
	deadline := time.Now().Add(within)
	quietSince := time.Now()
	for time.Now().Before(deadline) && (len(out) < want || time.Since(quietSince) < time.Second) {
		for _, r := range readers {
			ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
			m, err := r.ReadMessage(ctx)
			cancel()
			if err == nil {
				out = append(out, m)
				quietSince = time.Now()
			} else if !errors.Is(err, context.DeadlineExceeded) {
				t.Fatal(err)
			}
		}
	}
	if len(out) < want {
		t.Errorf("%d alerts within %s, want at least %d", len(out), within, want)
	}
	return out
}
