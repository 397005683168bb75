package mqttsource

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/tandem-stream/tandem/io/internal/opts"
)

// BrokerOptionKeys are the option keys ParseBroker reads; the MQTT sink
// accepts them too.
var BrokerOptionKeys = []string{
	"url", "client.id", "username", "password", "clean.session", "keep.alive", "connection.timeout",
	"automatic.reconnect", "max.reconnect.delay", "qos", "quality.of.service",
}

// Broker is how to reach an MQTT broker, read from Siddhi's siddhi-io-mqtt
// options: url (required: tcp://, mqtt://, ssl://, tls://, mqtts://, ws:// or
// wss://), client.id, username and password, clean.session, keep.alive and
// connection.timeout (seconds, or a duration such as 500ms; defaults 60 and
// 30), automatic.reconnect (default true, unlike Siddhi: a node must not go
// deaf after a broker restart) and max.reconnect.delay (milliseconds or a
// duration; default 128000), and the QoS as qos or quality.of.service (0, 1
// or 2; default 1).
type Broker struct {
	URL               string
	ClientID          string
	User, Password    string
	CleanSession      bool
	KeepAlive         time.Duration
	ConnectTimeout    time.Duration
	AutoReconnect     bool
	MaxReconnectDelay time.Duration
	QoS               byte
}

// ParseBroker reads the broker options of a @source or @sink. what names the
// annotation in errors; cleanDefault is clean.session's default. ClientID is
// left empty when client.id is not given.
func ParseBroker(what string, options map[string]string, cleanDefault bool) (Broker, error) {
	var b Broker
	raw := strings.TrimSpace(options["url"])
	if raw == "" {
		return b, fmt.Errorf("%s: option \"url\" is required, e.g. url='tcp://localhost:1883'", what)
	}
	if err := checkURL(raw); err != nil {
		return b, fmt.Errorf("%s: option \"url\": %w", what, err)
	}
	b.URL = raw
	if v, ok := options["client.id"]; ok {
		b.ClientID = strings.TrimSpace(v)
		if b.ClientID == "" || len(b.ClientID) > 65535 || strings.ContainsRune(b.ClientID, 0) {
			return b, fmt.Errorf("%s: option \"client.id\": %q is not a client id", what, v)
		}
	}
	user, hasUser := options["username"]
	pass, hasPass := options["password"]
	if hasPass && !hasUser {
		return b, fmt.Errorf("%s: option \"password\" needs \"username\"", what)
	}
	b.User, b.Password = user, pass
	var err error
	if b.CleanSession, err = opts.Bool(what, options, "clean.session", cleanDefault); err != nil {
		return b, err
	}
	if b.AutoReconnect, err = opts.Bool(what, options, "automatic.reconnect", true); err != nil {
		return b, err
	}
	if b.KeepAlive, err = seconds(what, options, "keep.alive", 60*time.Second); err != nil {
		return b, err
	}
	if b.ConnectTimeout, err = seconds(what, options, "connection.timeout", 30*time.Second); err != nil {
		return b, err
	}
	if b.MaxReconnectDelay, err = opts.Duration(what, options, "max.reconnect.delay", 128*time.Second); err != nil {
		return b, err
	}
	if b.QoS, err = parseQoS(what, options); err != nil {
		return b, err
	}
	return b, nil
}

func checkURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return err
	}
	switch u.Scheme {
	case "tcp", "mqtt", "ssl", "tls", "mqtts", "ws", "wss":
	default:
		return fmt.Errorf("%q: scheme %q is not tcp, mqtt, ssl, tls, mqtts, ws or wss", raw, u.Scheme)
	}
	if u.Hostname() == "" {
		return fmt.Errorf("%q: no host", raw)
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.ParseUint(p, 10, 16); err != nil || n == 0 {
			return fmt.Errorf("%q: bad port %q", raw, p)
		}
	}
	if u.User != nil {
		return fmt.Errorf("%q: credentials in the URL are not supported; use username and password", raw)
	}
	return nil
}

// parseQoS reads qos or its Siddhi name quality.of.service.
func parseQoS(what string, options map[string]string) (byte, error) {
	v, ok := options["qos"]
	key := "qos"
	if v2, ok2 := options["quality.of.service"]; ok2 {
		if ok && strings.TrimSpace(v) != strings.TrimSpace(v2) {
			return 0, fmt.Errorf("%s: options \"qos\" and \"quality.of.service\" disagree; give one", what)
		}
		v, ok, key = v2, true, "quality.of.service"
	}
	if !ok {
		return 1, nil
	}
	switch strings.TrimSpace(v) {
	case "0":
		return 0, nil
	case "1":
		return 1, nil
	case "2":
		return 2, nil
	}
	return 0, fmt.Errorf("%s: option %q: %q is not 0, 1 or 2", what, key, v)
}

// seconds reads a duration option the Siddhi way: a bare integer is seconds;
// a Go duration such as 500ms is accepted too. It must be positive.
func seconds(what string, options map[string]string, key string, def time.Duration) (time.Duration, error) {
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

// ClientOptions returns paho client options for the broker. The caller adds
// its handlers.
func (b Broker) ClientOptions() *mqtt.ClientOptions {
	o := mqtt.NewClientOptions().
		AddBroker(b.URL).
		SetClientID(b.ClientID).
		SetCleanSession(b.CleanSession).
		SetKeepAlive(b.KeepAlive).
		SetPingTimeout(min(b.KeepAlive, 10*time.Second)).
		SetConnectTimeout(b.ConnectTimeout).
		SetWriteTimeout(b.ConnectTimeout).
		SetAutoReconnect(b.AutoReconnect).
		SetMaxReconnectInterval(b.MaxReconnectDelay).
		SetConnectRetry(b.AutoReconnect).
		SetConnectRetryInterval(time.Second)
	if b.User != "" {
		o.SetUsername(b.User)
		o.SetPassword(b.Password)
	}
	return o
}

// CheckTopic checks a topic name (filter false: no wildcards) or a topic
// filter (filter true: '+' as a whole level, '#' as the whole last level).
func CheckTopic(topic string, filter bool) error {
	if topic == "" {
		return fmt.Errorf("empty topic")
	}
	if len(topic) > 65535 {
		return fmt.Errorf("topic is longer than 65535 bytes")
	}
	if strings.ContainsRune(topic, 0) {
		return fmt.Errorf("topic %q has a NUL character", topic)
	}
	levels := strings.Split(topic, "/")
	for i, l := range levels {
		if !strings.ContainsAny(l, "+#") {
			continue
		}
		if !filter {
			return fmt.Errorf("topic %q: a publish topic cannot have wildcards", topic)
		}
		switch {
		case l == "+":
		case l == "#" && i == len(levels)-1:
		case l == "#":
			return fmt.Errorf("topic %q: '#' must be the last level", topic)
		default:
			return fmt.Errorf("topic %q: wildcards must be whole levels", topic)
		}
	}
	return nil
}
