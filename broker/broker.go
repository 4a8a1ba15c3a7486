// Package broker runs an in-process Kafka-protocol broker (franz-go's kfake) for development, the
// demo and tests. It speaks the real protocol: kafka-go, kcat and any client work against it.
package broker

import (
	"crypto/tls"
	"fmt"
	"net"
	"strconv"
	"strings"

	"github.com/twmb/franz-go/pkg/kfake"
)

// Options configure a broker.
type Options struct {
	Addr       string   // host:port to listen on; default 127.0.0.1:0 (a free port)
	Topics     []string // created at start
	Partitions int      // per topic (default 3)
	DataDir    string   // persist topics and offsets here across restarts ("" keeps them in memory)
	// NoFsync leaves DataDir's writes to the page cache, as Kafka does by default, instead of
	// syncing every batch: for a scratch directory whose data need not survive a crash.
	NoFsync bool
	TLS     *tls.Config
	// Users enables SASL: clients must authenticate as one of them. Each gets every permission.
	Users []User
}

// User is a SASL user of the broker.
type User struct {
	Mechanism string // PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512
	Name      string
	Password  string
}

// ParseUser reads "mechanism:name:password" (mechanism case-insensitive).
func ParseUser(s string) (User, error) {
	mech, rest, ok1 := strings.Cut(s, ":")
	name, pass, ok2 := strings.Cut(rest, ":")
	if !ok1 || !ok2 || name == "" {
		return User{}, fmt.Errorf("SASL user %q: want mechanism:name:password", s)
	}
	mech = strings.ToUpper(mech)
	switch mech {
	case "PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512":
	default:
		return User{}, fmt.Errorf("SASL user %q: mechanism %s: want plain, scram-sha-256 or scram-sha-512", s, mech)
	}
	return User{Mechanism: mech, Name: name, Password: pass}, nil
}

// Broker is a running single-node broker.
type Broker struct {
	c    *kfake.Cluster
	Addr string
}

// Start listens and seeds the topics.
func Start(o Options) (*Broker, error) {
	if o.Addr == "" {
		o.Addr = "127.0.0.1:0"
	}
	if o.Partitions <= 0 {
		o.Partitions = 3
	}
	host, portStr, err := net.SplitHostPort(o.Addr)
	if err != nil {
		return nil, fmt.Errorf("broker address %q: %v", o.Addr, err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil {
		return nil, fmt.Errorf("broker address %q: bad port", o.Addr)
	}
	opts := []kfake.Opt{
		kfake.NumBrokers(1),
		kfake.Ports(port),
		kfake.ListenFn(func(network, _ string) (net.Listener, error) {
			// kfake asks for ":port"; bind to the requested host only.
			return net.Listen(network, net.JoinHostPort(host, strconv.Itoa(port)))
		}),
		kfake.DefaultNumPartitions(o.Partitions),
		kfake.GroupMinSessionTimeout(1000),
	}
	if len(o.Topics) > 0 {
		opts = append(opts, kfake.SeedTopics(int32(o.Partitions), o.Topics...))
	}
	if o.TLS != nil {
		opts = append(opts, kfake.TLS(o.TLS))
	}
	if len(o.Users) > 0 {
		opts = append(opts, kfake.EnableSASL())
		for _, u := range o.Users {
			opts = append(opts, kfake.Superuser(strings.ToUpper(u.Mechanism), u.Name, u.Password))
		}
	}
	if o.DataDir != "" {
		opts = append(opts, kfake.DataDir(o.DataDir))
		if !o.NoFsync {
			opts = append(opts, kfake.SyncWrites())
		}
	}
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		return nil, fmt.Errorf("start broker on %s: %w", o.Addr, err)
	}
	return &Broker{c: c, Addr: c.ListenAddrs()[0]}, nil
}

// CreateTopic adds a topic (an error if it exists).
func (b *Broker) CreateTopic(name string, partitions int) error {
	return b.c.CreateTopic(name, int32(partitions), nil)
}

// Cluster exposes kfake for tests that inject faults.
func (b *Broker) Cluster() *kfake.Cluster { return b.c }

// Close stops the broker.
func (b *Broker) Close() { b.c.Close() }
