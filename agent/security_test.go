package agent

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/vigil-detect/vigil/broker"
	"github.com/vigil-detect/vigil/config"
)

const sshRules = "../examples/rsyslog/rules"

func sshdEvent(i int) []byte {
	return fmt.Appendf(nil, `{"appname":"sshd","hostname":"web-1","message":"Failed password for root from 203.0.113.%d port 22 ssh2","src_ip":"203.0.113.%d"}`, i, i)
}

// TestKafkaSASLAndTLS runs the agent against kfake with TLS and each SASL mechanism, configured
// from a YAML file as an operator would (CA file, server name, client certificate, password from
// the environment), and checks alerts come back, compressed, with the source record's headers.
func TestKafkaSASLAndTLS(t *testing.T) {
	pki := newPKI(t)
	cases := []struct {
		mech       string
		clientCert bool
		codec      string
	}{
		{"plain", false, "gzip"},
		{"scram-sha-256", true, "zstd"},
		{"scram-sha-512", true, "lz4"},
	}
	for _, c := range cases {
		t.Run(c.mech, func(t *testing.T) {
			t.Parallel()
			b, err := broker.Start(broker.Options{Topics: []string{"events", "vigil-alerts", "vigil-dead-letter"}, Partitions: 2,
				TLS: pki.serverTLS(c.clientCert), Users: []broker.User{{Mechanism: strings.ToUpper(c.mech), Name: "vigil", Password: "s3cret"}}})
			if err != nil {
				t.Fatal(err)
			}
			defer b.Close()
			certs := ""
			if c.clientCert {
				certs = fmt.Sprintf("    cert_file: %s\n    key_file: %s\n", pki.clientCert, pki.clientKey)
			}
			path := writeFile(t, t.TempDir(), "vigil.yaml", fmt.Sprintf(`rules: [%s]
kafka:
  brokers: [%s]
  group: secure
  compression: %s
  tls:
    enabled: true
    ca_file: %s
    server_name: %s
%s  sasl:
    mechanism: %s
    username: vigil
    password: ${KAFKA_PASSWORD}
metrics:
  addr: 127.0.0.1:0
`, sshRules, b.Addr, c.codec, pki.caFile, brokerName, certs, c.mech))
			cfg, err := config.Parse(path, func(k string) (string, bool) { return "s3cret", k == "KAFKA_PASSWORD" })
			if err == nil {
				err = cfg.Validate()
			}
			if err == nil {
				err = cfg.CheckFiles()
			}
			if err != nil {
				t.Fatal(err)
			}
			kc, err := KafkaConfig(cfg, quietLog())
			if err != nil {
				t.Fatal(err)
			}
			const n = 6
			var msgs []kafka.Message
			for i := 0; i < n; i++ {
				msgs = append(msgs, kafka.Message{Value: sshdEvent(i), Headers: []kafka.Header{{Key: "trace-id", Value: fmt.Appendf(nil, "t%d", i)}}})
			}
			if err := produceWith(kc, "events", msgs...); err != nil {
				t.Fatalf("produce over TLS+SASL: %v", err)
			}
			a := &Agent{Config: cfg, Log: quietLog()}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- a.Run(ctx) }()
			got := readWith(t, kc, "vigil-alerts", 2, n, 30*time.Second)
			cancel()
			if err := <-done; err != nil {
				t.Fatalf("agent: %v", err)
			}
			if len(got) != n {
				t.Fatalf("%d alerts, want %d", len(got), n)
			}
			traces := map[string]bool{}
			for _, m := range got {
				var al struct {
					Kind string `json:"kind"`
					Rule struct{ Title string }
				}
				if err := json.Unmarshal(m.Value, &al); err != nil || al.Kind != "detection" || al.Rule.Title != "SSH Failed Password" {
					t.Errorf("alert %s (%v)", m.Value, err)
				}
				h := headers(m)
				traces[h["trace-id"]] = true
				if h["vigil-format"] != "vigil" || h["vigil-kind"] != "detection" {
					t.Errorf("alert headers %v", h)
				}
			}
			if len(traces) != n {
				t.Errorf("source headers not kept on the alerts: %v", traces)
			}
		})
	}

	t.Run("refused", func(t *testing.T) {
		t.Parallel()
		b, err := broker.Start(broker.Options{Topics: []string{"events"}, Partitions: 1, TLS: pki.serverTLS(true),
			Users: []broker.User{{Mechanism: "SCRAM-SHA-512", Name: "vigil", Password: "s3cret"}}})
		if err != nil {
			t.Fatal(err)
		}
		defer b.Close()
		good := config.Default()
		good.Kafka.Brokers = []string{b.Addr}
		good.Kafka.TLS = config.TLS{Enabled: true, CAFile: pki.caFile, ServerName: brokerName, CertFile: pki.clientCert, KeyFile: pki.clientKey}
		good.Kafka.SASL = config.SASL{Mechanism: "scram-sha-512", Username: "vigil", Password: "s3cret"}
		try := func(mutate func(c *config.Config)) error {
			c := *good
			mutate(&c)
			kc, err := KafkaConfig(&c, quietLog())
			if err != nil {
				return err
			}
			return produceWith(kc, "events", kafka.Message{Value: []byte(`{}`)})
		}
		if err := try(func(*config.Config) {}); err != nil {
			t.Fatalf("the good settings fail: %v", err)
		}
		for name, mutate := range map[string]func(c *config.Config){
			"wrong password":           func(c *config.Config) { c.Kafka.SASL.Password = "guess" },
			"wrong mechanism":          func(c *config.Config) { c.Kafka.SASL.Mechanism = "scram-sha-256" },
			"no server name":           func(c *config.Config) { c.Kafka.TLS.ServerName = "" },
			"no client certificate":    func(c *config.Config) { c.Kafka.TLS.CertFile, c.Kafka.TLS.KeyFile = "", "" },
			"system roots, not the CA": func(c *config.Config) { c.Kafka.TLS.CAFile = "" },
		} {
			err := try(mutate)
			if err == nil {
				t.Errorf("%s: the broker accepted the connection", name)
			}
			t.Logf("%s: %v", name, err)
		}
	})
}

func headers(m kafka.Message) map[string]string {
	h := map[string]string{}
	for _, x := range m.Headers {
		h[x.Key] = string(x.Value)
	}
	return h
}
