package agent

import (
	"log/slog"

	"github.com/vigil-detect/vigil/config"
	"github.com/vigil-detect/vigil/metrics"
	"github.com/vigil-detect/vigil/respond"
	"github.com/vigil-detect/vigil/stream"
)

// responseStage builds the response stage from the `response:` section (nil without one).
func responseStage(cfg *config.Config, log *slog.Logger, m *metrics.Metrics, env []StageEnv) (*respond.Responder, error) {
	o := respond.Options{
		File:    cfg.Path,
		Log:     log,
		Metrics: m,
		Version: Version,
		Kafka:   func() (stream.KafkaConfig, error) { return KafkaConfig(cfg, log) },
	}
	for _, e := range env {
		if e.Mux != nil {
			o.Mux = e.Mux
		}
		if e.OnDecision != nil {
			o.OnDecision = e.OnDecision
		}
	}
	return respond.FromConfig(cfg, o)
}
