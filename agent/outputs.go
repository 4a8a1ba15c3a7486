package agent

import (
	"fmt"
	"io"
	"os"

	"github.com/vigil-detect/vigil/alertfmt"
	"github.com/vigil-detect/vigil/config"
	"github.com/vigil-detect/vigil/ingest"
	"github.com/vigil-detect/vigil/stream"
)

// Encoder returns the alert encoder of a format name ("" is Vigil's).
func Encoder(format string) (alertfmt.Encoder, error) {
	return alertfmt.New(format, alertfmt.Options{Version: Version})
}

// Sinks opens every alert destination the configuration names: the alerts topic (Vigil's
// format), output.stdout and output.file (output.format), and each of output.sinks. stdout is
// where stdout sinks write. On error, the sinks opened so far are closed.
func Sinks(cfg *config.Config, kc stream.KafkaConfig, stdout io.Writer) (sinks []stream.Sink, err error) {
	defer func() {
		if err != nil {
			for _, s := range sinks {
				s.Close()
			}
			sinks = nil
		}
	}()
	if cfg.Kafka.AlertsTopic != "" {
		ks, err := stream.NewKafkaSink(kc, stream.WriterConfig{Topic: cfg.Kafka.AlertsTopic, Compression: cfg.Kafka.Compression,
			MaxMessageBytes: cfg.Kafka.MaxMessageBytes})
		if err != nil {
			return sinks, err
		}
		sinks = append(sinks, ks)
	}
	enc, err := Encoder(cfg.Output.Format)
	if err != nil {
		return sinks, fmt.Errorf("output.format: %w", err)
	}
	if cfg.Output.Stdout {
		sinks = append(sinks, stream.NewFormatWriterSink(stdout, false, enc))
	}
	if cfg.Output.File != "" {
		f, err := openAppend(cfg.Output.File)
		if err != nil {
			return sinks, fmt.Errorf("output.file: %w", err)
		}
		sinks = append(sinks, stream.NewFormatWriterSink(f, true, enc))
	}
	for i, sc := range cfg.Output.Sinks {
		s, err := openSink(sc, kc, stdout, cfg.Kafka.MaxMessageBytes)
		if err != nil {
			return sinks, fmt.Errorf("output.sinks[%d] (%s): %w", i, sc.Type, err)
		}
		sinks = append(sinks, s)
	}
	return sinks, nil
}

func openSink(sc config.Sink, kc stream.KafkaConfig, stdout io.Writer, maxMessageBytes int) (stream.Sink, error) {
	enc, err := Encoder(sc.Format)
	if err != nil {
		return nil, err
	}
	switch sc.Type {
	case "kafka":
		return stream.NewKafkaSink(kc, stream.WriterConfig{Topic: sc.Topic, Compression: sc.Compression, Encoder: enc,
			MaxMessageBytes: maxMessageBytes})
	case "stdout":
		return stream.NewFormatWriterSink(stdout, false, enc), nil
	case "file":
		f, err := openAppend(sc.Path)
		if err != nil {
			return nil, err
		}
		return stream.NewFormatWriterSink(f, true, enc), nil
	case "webhook":
		return stream.NewWebhookSink(stream.WebhookConfig{URL: sc.URL, Headers: sc.Headers, Body: sc.Body, Timeout: sc.Timeout, Encoder: enc})
	}
	return nil, fmt.Errorf("unknown sink type %q", sc.Type)
}

func openAppend(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o640)
}

// Inputs compiles the per-topic input formats (nil when every topic carries JSON).
func Inputs(cfg *config.Config) (*ingest.Router, error) {
	return ingest.NewRouter(cfg.Inputs)
}

// EvalInput says how `vigil eval` reads its files: as the records of a configured input's topic,
// or in a format; zero reads NDJSON.
type EvalInput struct {
	Topic  string // use inputs[] entry of this topic
	Format string // json, syslog, logfmt, cef, text (overrides the topic's format)
}

// router builds the router that converts file records (which have no topic) as e says.
func (e EvalInput) router(cfg *config.Config) (*ingest.Router, error) {
	if e.Topic == "" && e.Format == "" {
		return nil, nil
	}
	in := config.Input{}
	if e.Topic != "" {
		found := false
		for _, c := range cfg.Inputs {
			if c.Topic == e.Topic {
				in, found = c, true
			}
		}
		if !found {
			return nil, fmt.Errorf("--input %s: no inputs entry for that topic in the configuration", e.Topic)
		}
	}
	if e.Format != "" {
		in.Format = e.Format
	}
	in.Topic = "" // file records have no topic
	return ingest.NewRouter([]config.Input{in})
}
