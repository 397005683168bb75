package rabbitsource

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/tandem-stream/tandem/io/internal/opts"
)

// ConnOptionKeys are the option keys ParseConn reads; the RabbitMQ sink
// accepts them too.
var ConnOptionKeys = []string{"uri", "heartbeat", "tls.enabled"}

// ExchangeOptionKeys are the option keys ParseExchange reads.
var ExchangeOptionKeys = []string{"exchange.name", "exchange.type", "exchange.durable.enabled", "exchange.autodelete.enabled"}

// Unsupported are Siddhi's RabbitMQ options that both connectors refuse,
// with the reason.
var Unsupported = map[string]string{
	"tls.truststore.path":     "give an amqps:// uri; the server certificate is checked against the system's trusted CAs",
	"tls.truststore.password": "give an amqps:// uri; the server certificate is checked against the system's trusted CAs",
	"tls.truststore.type":     "give an amqps:// uri; the server certificate is checked against the system's trusted CAs",
	"tls.version":             "TLS 1.2 or later is negotiated",
}

// DefaultHeartbeat is Siddhi's heartbeat.
const DefaultHeartbeat = 60 * time.Second

// dialTimeout bounds connecting and the AMQP handshake.
const dialTimeout = 5 * time.Second

// Conn is how to reach a RabbitMQ server: uri (amqp:// or amqps://, with
// the credentials and the vhost) and heartbeat (seconds).
type Conn struct {
	URI       string
	Heartbeat time.Duration
	addr      string // the URI without credentials, for logs and errors
}

// ParseConn reads uri, heartbeat and tls.enabled. what names the
// annotation in errors.
func ParseConn(what string, options map[string]string) (Conn, error) {
	var c Conn
	c.URI = strings.TrimSpace(options["uri"])
	if c.URI == "" {
		return c, fmt.Errorf("%s: option \"uri\" is required, e.g. uri='amqp://guest:guest@localhost:5672/'", what)
	}
	u, err := amqp.ParseURI(c.URI)
	if err != nil {
		// The URI may hold a password: do not repeat it.
		return c, fmt.Errorf("%s: option \"uri\" is not an amqp:// or amqps:// URI: %s", what, redactErr(err, c.URI))
	}
	if u.Port < 1 || u.Port > 65535 {
		return c, fmt.Errorf("%s: option \"uri\": port %d is out of range", what, u.Port)
	}
	vhost := u.Vhost
	if vhost == "/" {
		vhost = "" // the default vhost, written as the bare trailing slash
	}
	c.addr = u.Scheme + "://" + net.JoinHostPort(u.Host, strconv.Itoa(u.Port)) + "/" + url.PathEscape(vhost)
	c.Heartbeat = DefaultHeartbeat
	if v, ok := options["heartbeat"]; ok {
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil || n < 0 || n > 3600 {
			return c, fmt.Errorf("%s: option \"heartbeat\": %q is not a number of seconds from 0 to 3600", what, v)
		}
		c.Heartbeat = time.Duration(n) * time.Second
	}
	tls, err := opts.Bool(what, options, "tls.enabled", false)
	if err != nil {
		return c, err
	}
	if tls && u.Scheme != "amqps" {
		return c, fmt.Errorf("%s: tls.enabled='true' needs an amqps:// uri", what)
	}
	return c, nil
}

func redactErr(err error, uri string) string {
	msg := err.Error()
	if uri != "" {
		msg = strings.ReplaceAll(msg, uri, "<uri>")
	}
	return msg
}

// String returns the server address without credentials.
func (c Conn) String() string { return c.addr }

// Dial connects.
func (c Conn) Dial() (*amqp.Connection, error) {
	conn, err := amqp.DialConfig(c.URI, amqp.Config{
		Heartbeat:  c.Heartbeat,
		Dial:       amqp.DefaultDial(dialTimeout),
		Properties: amqp.Table{"product": "tandem", "connection_name": "tandem"},
	})
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %s", c.addr, redactErr(err, c.URI))
	}
	return conn, nil
}

// Exchange is an exchange to declare: exchange.name, exchange.type (direct,
// fanout, topic or headers; default direct), exchange.durable.enabled and
// exchange.autodelete.enabled (both false by default), as in Siddhi.
type Exchange struct {
	Name       string
	Kind       string
	Durable    bool
	AutoDelete bool
}

// ParseExchange reads the exchange options; exchange.name is required.
func ParseExchange(what string, options map[string]string) (Exchange, error) {
	var e Exchange
	e.Name = strings.TrimSpace(options["exchange.name"])
	if e.Name == "" {
		return e, fmt.Errorf("%s: option \"exchange.name\" is required", what)
	}
	if err := validName(e.Name); err != nil {
		return e, fmt.Errorf("%s: option \"exchange.name\": %w", what, err)
	}
	e.Kind = strings.ToLower(strings.TrimSpace(options["exchange.type"]))
	switch e.Kind {
	case "":
		e.Kind = amqp.ExchangeDirect
	case amqp.ExchangeDirect, amqp.ExchangeFanout, amqp.ExchangeTopic, amqp.ExchangeHeaders:
	default:
		return e, fmt.Errorf("%s: option \"exchange.type\": %q is not direct, fanout, topic or headers", what, options["exchange.type"])
	}
	var err error
	if e.Durable, err = opts.Bool(what, options, "exchange.durable.enabled", false); err != nil {
		return e, err
	}
	if e.AutoDelete, err = opts.Bool(what, options, "exchange.autodelete.enabled", false); err != nil {
		return e, err
	}
	return e, nil
}

// validName checks an exchange or queue name: 1 to 255 bytes without
// control characters.
func validName(name string) error {
	if len(name) > 255 {
		return fmt.Errorf("%.20q... is longer than 255 bytes", name)
	}
	if strings.ContainsFunc(name, func(r rune) bool { return r < ' ' || r == 0x7f }) {
		return fmt.Errorf("%q has control characters", name)
	}
	return nil
}

// Declare makes sure the exchange exists. An exchange that exists already is
// used as it is, whatever its settings, as in Siddhi; the predefined amq.*
// exchanges are never declared.
func (e Exchange) Declare(conn *amqp.Connection) error {
	exists, err := probe(conn, func(ch *amqp.Channel) error {
		return ch.ExchangeDeclarePassive(e.Name, e.Kind, e.Durable, e.AutoDelete, false, false, nil)
	})
	if err != nil || exists {
		return err
	}
	if strings.HasPrefix(e.Name, "amq.") {
		return fmt.Errorf("exchange %q does not exist, and names beginning amq. are reserved", e.Name)
	}
	ch, err := conn.Channel()
	if err != nil {
		return fmt.Errorf("open a channel: %w", err)
	}
	defer ch.Close()
	if err := ch.ExchangeDeclare(e.Name, e.Kind, e.Durable, e.AutoDelete, false, false, nil); err != nil {
		return fmt.Errorf("declare exchange %q: %w", e.Name, err)
	}
	return nil
}

// probe runs a passive declaration on a channel of its own (a missing
// entity closes the channel) and reports whether the entity exists.
func probe(conn *amqp.Connection, declare func(*amqp.Channel) error) (bool, error) {
	ch, err := conn.Channel()
	if err != nil {
		return false, fmt.Errorf("open a channel: %w", err)
	}
	err = declare(ch)
	var aerr *amqp.Error
	switch {
	case err == nil:
		_ = ch.Close()
		return true, nil
	case errors.As(err, &aerr) && aerr.Code == amqp.NotFound:
		return false, nil // the server closed the channel
	default:
		_ = ch.Close()
		return false, err
	}
}

// ParseHeaders reads Siddhi's headers option, "'key1:value1','key2:value2'"
// (the quotes are optional), into a table of string values.
func ParseHeaders(what, raw string) (amqp.Table, error) {
	t := amqp.Table{}
	for item := range strings.SplitSeq(raw, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		if len(item) >= 2 && item[0] == '\'' && item[len(item)-1] == '\'' {
			item = item[1 : len(item)-1]
		}
		k, v, ok := strings.Cut(item, ":")
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if !ok || k == "" || len(k) > 255 {
			return nil, fmt.Errorf("%s: option \"headers\": %q is not 'key:value' (write 'key1:value1','key2:value2')", what, item)
		}
		if _, dup := t[k]; dup {
			return nil, fmt.Errorf("%s: option \"headers\": key %q given twice", what, k)
		}
		t[k] = v
	}
	return t, nil
}
