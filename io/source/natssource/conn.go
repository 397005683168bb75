package natssource

import (
	"fmt"
	"log/slog"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
)

// DefaultServers is the server list when neither server.urls nor
// bootstrap.servers is given, as in Siddhi.
const DefaultServers = "nats://localhost:4222"

// ConnOptionKeys are the option keys ParseConn reads; the NATS sink accepts
// them too.
var ConnOptionKeys = []string{
	"server.urls", "bootstrap.servers", "client.id", "auth.type", "username", "password", "token",
}

// Conn is how to reach a NATS server, read from Siddhi's connection options:
// server.urls (or its older name bootstrap.servers; a comma-separated list of
// nats://, tls://, ws:// or wss:// URLs), client.id (the connection name the
// server shows), and auth.type 'user' (with username and password) or 'token'
// (with token). TLS needs only a tls:// URL; client certificates are not
// supported.
type Conn struct {
	Servers  []string
	Name     string
	User     string
	Password string
	Token    string
}

// ParseConn reads the connection options of a @source or @sink. what names the
// annotation in errors. Keys other than ConnOptionKeys are left to the caller.
func ParseConn(what string, options map[string]string) (Conn, error) {
	var c Conn
	raw, ok := options["server.urls"]
	if old, ok2 := options["bootstrap.servers"]; ok2 {
		if ok && strings.TrimSpace(old) != strings.TrimSpace(raw) {
			return c, fmt.Errorf("%s: options \"server.urls\" and \"bootstrap.servers\" disagree; give one", what)
		}
		raw, ok = old, true
	}
	if !ok {
		raw = DefaultServers
	}
	servers, err := parseServers(raw)
	if err != nil {
		return c, fmt.Errorf("%s: option %q: %w", what, serverKey(options), err)
	}
	c.Servers = servers
	c.Name = strings.TrimSpace(options["client.id"])

	user, hasUser := options["username"]
	pass, hasPass := options["password"]
	token, hasToken := options["token"]
	switch at := strings.ToLower(strings.TrimSpace(options["auth.type"])); at {
	case "":
		if hasUser || hasPass || hasToken {
			return c, fmt.Errorf("%s: username, password and token need auth.type='user' or auth.type='token'", what)
		}
	case "user":
		if !hasUser || strings.TrimSpace(user) == "" {
			return c, fmt.Errorf("%s: auth.type='user' needs option \"username\"", what)
		}
		if hasToken {
			return c, fmt.Errorf("%s: option \"token\" does not go with auth.type='user'", what)
		}
		c.User, c.Password = user, pass
	case "token":
		if !hasToken || token == "" {
			return c, fmt.Errorf("%s: auth.type='token' needs option \"token\"", what)
		}
		if hasUser || hasPass {
			return c, fmt.Errorf("%s: username and password do not go with auth.type='token'", what)
		}
		c.Token = token
	case "tls":
		return c, fmt.Errorf("%s: auth.type='tls' (client certificates) is not supported; use tls:// server URLs for an encrypted connection", what)
	default:
		return c, fmt.Errorf("%s: option \"auth.type\": %q is not user or token", what, at)
	}
	return c, nil
}

func serverKey(options map[string]string) string {
	if _, ok := options["bootstrap.servers"]; ok {
		return "bootstrap.servers"
	}
	return "server.urls"
}

// parseServers splits and checks a comma-separated server list.
func parseServers(raw string) ([]string, error) {
	var out []string
	for s := range strings.SplitSeq(raw, ",") {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		u, err := url.Parse(s)
		if err != nil {
			return nil, fmt.Errorf("%q: %w", s, err)
		}
		switch u.Scheme {
		case "nats", "tls", "ws", "wss":
		default:
			return nil, fmt.Errorf("%q: scheme %q is not nats, tls, ws or wss", s, u.Scheme)
		}
		if u.Hostname() == "" {
			return nil, fmt.Errorf("%q: no host", s)
		}
		if p := u.Port(); p != "" {
			if n, err := strconv.ParseUint(p, 10, 16); err != nil || n == 0 {
				return nil, fmt.Errorf("%q: bad port %q", s, p)
			}
		}
		if u.User != nil {
			return nil, fmt.Errorf("%q: credentials in the URL are not supported; use auth.type", s)
		}
		out = append(out, s)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no server URL in %q", raw)
	}
	return out, nil
}

// Dial connects. The connection reconnects on its own for as long as it is
// open, and logs its disconnections and reconnections. With background set,
// a server that cannot be reached yet is not an error: the connection keeps
// trying, as it does after losing a server.
func (c Conn) Dial(logger *slog.Logger, background bool) (*nats.Conn, error) {
	o := []nats.Option{
		nats.RetryOnFailedConnect(background),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(time.Second),
		nats.Timeout(5 * time.Second),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				logger.Warn("nats disconnected", "err", err)
			}
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) {
			logger.Info("nats reconnected", "server", nc.ConnectedUrlRedacted())
		}),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
			logger.Warn("nats error", "err", err)
		}),
	}
	if c.Name != "" {
		o = append(o, nats.Name(c.Name))
	}
	if c.User != "" {
		o = append(o, nats.UserInfo(c.User, c.Password))
	}
	if c.Token != "" {
		o = append(o, nats.Token(c.Token))
	}
	nc, err := nats.Connect(strings.Join(c.Servers, ","), o...)
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", strings.Join(c.Servers, ","), err)
	}
	return nc, nil
}

// ValidName reports whether s may name a JetStream stream or consumer: not
// empty, at most 255 bytes, and without whitespace, control characters, '.',
// '*', '>', '/' or '\'.
func ValidName(s string) bool {
	if s == "" || len(s) > 255 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c == 0x7f || strings.IndexByte(".*>/\\", c) >= 0 {
			return false
		}
	}
	return true
}

// Seconds reads a duration option the Siddhi way: a bare integer is seconds;
// a Go duration such as 500ms is accepted too. The duration must be positive.
func Seconds(what string, options map[string]string, key string, def time.Duration) (time.Duration, error) {
	v, ok := options[key]
	if !ok {
		return def, nil
	}
	t := strings.TrimSpace(v)
	var d time.Duration
	if n, err := strconv.ParseInt(t, 10, 64); err == nil {
		if n > int64(24*time.Hour/time.Second) {
			return 0, fmt.Errorf("%s: option %q: %q seconds is more than a day", what, key, v)
		}
		d = time.Duration(n) * time.Second
	} else if d, err = time.ParseDuration(t); err != nil {
		return 0, fmt.Errorf("%s: option %q: %q is neither seconds nor a duration like 500ms", what, key, v)
	}
	if d <= 0 {
		return 0, fmt.Errorf("%s: option %q: %q must be positive", what, key, v)
	}
	return d, nil
}
