// Package crashtest holds Vigil's end-to-end reliability tests, run with `go test ./crashtest`:
//
//   - TestCrashRestart builds the vigil binary, runs `vigil run` as a child process against an
//     embedded broker, kills it with SIGKILL at random moments while a generated attack stream
//     (with malformed records mixed in) is produced, restarts it, and checks the alerts topic
//     against the alerts `vigil eval` computes for the same events: every expected alert id
//     present, nothing unexpected, every malformed record dead-lettered with its reason, every
//     offset committed. VIGIL_CRASH_KILLS, VIGIL_CRASH_CHUNKS and VIGIL_CRASH_SEED make a long
//     run; the default is bounded for CI.
//   - TestBrokerOutage stops the broker under a running agent and starts it again on the same
//     port and data directory: /readyz reports the outage, nothing is lost.
//   - TestKcatInterop produces with kcat (librdkafka) into `vigil broker` and reads the alerts
//     back with kcat; it skips when kcat is not installed.
//
// The package has no non-test code besides this comment.
package crashtest
