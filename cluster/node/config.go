package node

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"time"

	"go.yaml.in/yaml/v3"
)

// Config is a cluster node's configuration file (YAML). Relative paths are
// resolved against the file's directory.
type Config struct {
	Node struct {
		ID    string `yaml:"id"`
		Group string `yaml:"group"`
		// API is the listen address of the admin/status HTTP API.
		API string `yaml:"api"`
	} `yaml:"node"`
	// DataDir holds this node's checkpoint store and, by default, the SQLite
	// coordination database.
	DataDir string `yaml:"dataDir"`
	// Apps are the SiddhiQL files this node runs.
	Apps         []string           `yaml:"apps"`
	Coordination CoordinationConfig `yaml:"coordination"`
	Replication  ReplicationConfig  `yaml:"replication"`
	Checkpoint   CheckpointConfig   `yaml:"checkpoint"`
	Sources      struct {
		// HTTPListen replaces the host:port of every HTTP source's receiver.url.
		HTTPListen string `yaml:"httpListen"`
	} `yaml:"sources"`
}

// CoordinationConfig selects the coordination store and its timing.
type CoordinationConfig struct {
	Type string `yaml:"type"` // sqlite (default), postgres, mysql or zookeeper
	Path string `yaml:"path"` // sqlite: the database file both nodes share
	DSN  string `yaml:"dsn"`  // postgres, mysql: connection string
	// ZooKeeper: the ensemble, the root znode (default /tandem) and the
	// session timeout (default 6s).
	Servers        []string      `yaml:"servers"`
	Root           string        `yaml:"root"`
	SessionTimeout time.Duration `yaml:"sessionTimeout"`
	Table          string        `yaml:"tablePrefix"`
	Heartbeat      time.Duration `yaml:"heartbeat"`
	Lease          time.Duration `yaml:"lease"`
}

// ReplicationConfig configures the link between the active and the passive.
type ReplicationConfig struct {
	Listen    string `yaml:"listen"`
	Advertise string `yaml:"advertise"`
	Ack       string `yaml:"ack"` // sync (default) or async
	// Mode is warm (default: the passive restores and replays on failover) or
	// hot (the passive applies every entry as it arrives and holds the
	// outputs: failover needs no restore or replay).
	Mode   string `yaml:"mode"`
	Secret string `yaml:"secret"`
	// RetryAppSyncPeriod is how long a joining passive waits for an app's
	// state before it asks again; after AppSyncRetries more tries the app is
	// marked inactive with the reason.
	RetryAppSyncPeriod time.Duration `yaml:"retryAppSyncPeriod"`
	// LiveSync (default true): a joining passive takes each app's state live
	// from the active. false: it restores the newest checkpoint from the
	// checkpoint store (best a store both nodes reach) and the active, which
	// then keeps every entry since its last checkpoint, sends the rest.
	LiveSync       *bool `yaml:"liveSync"`
	AppSyncRetries int   `yaml:"appSyncRetries"`
	// PeerTimeout is how long either side of the link waits for the other
	// before it gives up on the connection (the active then runs alone,
	// recording that first). Default: the lease, at least 2s, so that a
	// busy machine is not taken for a dead one.
	PeerTimeout time.Duration `yaml:"peerTimeout"`
	// TLS runs the replication link over TLS. Each node presents its
	// certificate (cert, key) and checks the peer's against ca, both ways.
	TLS *TLSConfig `yaml:"tls"`
}

// TLSConfig names the files of a node's TLS identity and trust.
type TLSConfig struct {
	CertFile   string `yaml:"cert"`
	KeyFile    string `yaml:"key"`
	CAFile     string `yaml:"ca"`
	ServerName string `yaml:"serverName"` // expected in the peer's certificate; default: the host dialled
}

// CheckpointConfig configures checkpoints.
type CheckpointConfig struct {
	Interval time.Duration `yaml:"interval"`
	Keep     int           `yaml:"keep"`
	// Store is fs (default: dataDir/checkpoints, this node's own), or a SQL
	// store: sqlite (Path), postgres or mysql (DSN). A store both nodes reach
	// lets a node that restarts restore from it.
	Store       string `yaml:"store"`
	Path        string `yaml:"path"`
	DSN         string `yaml:"dsn"`
	TablePrefix string `yaml:"tablePrefix"`
}

// LoadConfig reads and validates a config file.
func LoadConfig(path string) (*Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	var c Config
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	dir := filepath.Dir(path)
	c.resolve(dir)
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &c, nil
}

func (c *Config) resolve(dir string) {
	abs := func(p string) string {
		if p == "" || filepath.IsAbs(p) {
			return p
		}
		return filepath.Join(dir, p)
	}
	c.DataDir = abs(c.DataDir)
	c.Coordination.Path = abs(c.Coordination.Path)
	c.Checkpoint.Path = abs(c.Checkpoint.Path)
	if t := c.Replication.TLS; t != nil {
		t.CertFile, t.KeyFile, t.CAFile = abs(t.CertFile), abs(t.KeyFile), abs(t.CAFile)
	}
	for i := range c.Apps {
		c.Apps[i] = abs(c.Apps[i])
	}
}

// Validate fills in defaults and checks the config, naming the offending key.
func (c *Config) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if c.Node.ID == "" {
		bad("node.id is required")
	}
	if c.Node.Group == "" {
		c.Node.Group = "default"
	}
	if c.DataDir == "" {
		bad("dataDir is required")
	}
	if len(c.Apps) == 0 {
		bad("apps: at least one SiddhiQL file is required")
	}
	co := &c.Coordination
	switch co.Type {
	case "", "sqlite":
		co.Type = "sqlite"
		if co.Path == "" {
			bad("coordination.path is required for sqlite (the database file both nodes share)")
		}
	case "postgres", "mysql":
		if co.DSN == "" {
			bad("coordination.dsn is required for %s", co.Type)
		}
	case "zookeeper":
		if len(co.Servers) == 0 {
			bad("coordination.servers is required for zookeeper (host:port of each server)")
		}
	default:
		bad("coordination.type %q is not supported (sqlite, postgres, mysql or zookeeper)", co.Type)
	}
	if co.Heartbeat == 0 {
		co.Heartbeat = 500 * time.Millisecond
	}
	if co.Lease == 0 {
		co.Lease = 2 * time.Second
	}
	if co.Heartbeat <= 0 || co.Lease < 2*co.Heartbeat {
		bad("coordination.lease (%v) must be at least twice coordination.heartbeat (%v)", co.Lease, co.Heartbeat)
	}
	r := &c.Replication
	if r.Listen == "" {
		bad("replication.listen is required")
	} else if _, _, err := net.SplitHostPort(r.Listen); err != nil {
		bad("replication.listen %q: %v", r.Listen, err)
	}
	if r.Advertise == "" {
		r.Advertise = r.Listen
	}
	switch r.Ack {
	case "":
		r.Ack = "sync"
	case "sync", "async":
	default:
		bad("replication.ack %q must be sync or async", r.Ack)
	}
	if t := r.TLS; t != nil && (t.CertFile == "" || t.KeyFile == "" || t.CAFile == "") {
		bad("replication.tls needs cert, key and ca")
	}
	if r.PeerTimeout == 0 {
		r.PeerTimeout = max(co.Lease, 2*time.Second)
	}
	if r.PeerTimeout < 0 {
		bad("replication.peerTimeout must be positive")
	}
	if r.RetryAppSyncPeriod == 0 {
		r.RetryAppSyncPeriod = 5 * time.Second
	}
	if r.AppSyncRetries == 0 {
		r.AppSyncRetries = 3
	}
	if r.RetryAppSyncPeriod < 0 || r.AppSyncRetries < 0 {
		bad("replication.retryAppSyncPeriod and replication.appSyncRetries must not be negative")
	}
	switch r.Mode {
	case "":
		r.Mode = "warm"
	case "warm", "hot":
	default:
		bad("replication.mode %q must be warm or hot", r.Mode)
	}
	if c.Checkpoint.Interval == 0 {
		c.Checkpoint.Interval = 30 * time.Second
	}
	if c.Checkpoint.Interval < 0 {
		bad("checkpoint.interval must be positive")
	}
	if c.Checkpoint.Keep == 0 {
		c.Checkpoint.Keep = 3
	}
	ck := &c.Checkpoint
	switch ck.Store {
	case "", "fs":
		ck.Store = "fs"
	case "sqlite":
		if ck.Path == "" {
			bad("checkpoint.path is required for the sqlite checkpoint store")
		}
	case "postgres", "mysql":
		if ck.DSN == "" {
			bad("checkpoint.dsn is required for the %s checkpoint store", ck.Store)
		}
	default:
		bad("checkpoint.store %q is not supported (fs, sqlite, postgres or mysql)", ck.Store)
	}
	if c.Node.API == "" {
		bad("node.api is required (the admin and status API listen address)")
	}
	return errors.Join(errs...)
}

// LiveSyncOn reports whether live sync is on (the default).
func (r ReplicationConfig) LiveSyncOn() bool { return r.LiveSync == nil || *r.LiveSync }
