package node

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"

	"github.com/tandem-stream/tandem/cluster/coord"
	"github.com/tandem-stream/tandem/deploy"
	"github.com/tandem-stream/tandem/lang/ast"
	"github.com/tandem-stream/tandem/lang/parser"
)

// Apps deployed through the API live in the coordination store (when the
// backend keeps apps), so both nodes run the same version of each: every node
// reconciles its apps with the store's list on each heartbeat. Apps from the
// config file stay local and cannot be replaced through the API.

const (
	originConfig = "config"
	originAPI    = "api"
)

// appStore returns the coordination store's app store, if it has one.
func (n *Node) appStore() (coord.AppStore, bool) {
	s, ok := n.deps.Coord.(coord.AppStore)
	return s, ok && n.deps.Connectors != nil
}

// reconcile brings the node's API-deployed apps in line with the store's
// list (Run goroutine only).
func (n *Node) reconcile(ctx context.Context) {
	store, ok := n.appStore()
	if !ok {
		return
	}
	stored, err := store.Apps(ctx)
	if err != nil {
		if ctx.Err() == nil {
			n.log.Warn("list deployed apps", "err", err)
		}
		return
	}
	current := n.unitList()
	byName := map[string]*unit{}
	for _, u := range current {
		byName[u.plan.Name] = u
	}
	next := make([]*unit, 0, len(stored)+len(current))
	changed := false
	seen := map[string]bool{}
	for _, a := range stored {
		seen[a.Name] = true
		u := byName[a.Name]
		if u != nil && u.origin == originConfig {
			n.noteBroken(a.Name, fmt.Sprintf("version %d from the API is ignored: an app of that name comes from this node's config file", a.Version))
			continue
		}
		if u != nil && u.plan.Hash == a.Hash {
			continue
		}
		plan, err := deploy.Load(apiFile(a.Name), a.Text, n.deps.Connectors)
		if err == nil && plan.Name != a.Name {
			err = fmt.Errorf("the app calls itself %q but was deployed as %q", plan.Name, a.Name)
		}
		if err != nil {
			n.noteBroken(a.Name, err.Error())
			continue
		}
		n.noteBroken(a.Name, "")
		if u != nil {
			n.retire(u)
		}
		nu := &unit{plan: plan, origin: originAPI, version: a.Version}
		n.resetApp(nu)
		byName[a.Name] = nu
		changed = true
		n.log.Info("app deployed", "app", a.Name, "version", a.Version, "hash", a.Hash[:12])
	}
	for _, u := range current {
		if u.origin == originAPI && !seen[u.plan.Name] {
			n.retire(u)
			delete(byName, u.plan.Name)
			changed = true
			n.log.Info("app undeployed", "app", u.plan.Name)
		}
	}
	n.mu.Lock()
	for name := range n.broken {
		if !seen[name] {
			delete(n.broken, name)
		}
	}
	n.mu.Unlock()
	if !changed {
		return
	}
	for _, u := range byName {
		next = append(next, u)
	}
	slices.SortFunc(next, func(a, b *unit) int { return strings.Compare(a.plan.Name, b.plan.Name) })
	n.mu.Lock()
	n.units = next
	n.mu.Unlock()

	if n.machine().Role() == Active {
		for _, u := range next {
			if u.app.Status().Role == "passive" { // new here
				n.promoteUnit(ctx, u, n.machine().Epoch())
				n.startUnitSources(ctx, u)
			}
		}
		if r := n.currentRepl(); r != nil {
			r.dropSession() // the passive reconnects and takes every app's state
		}
		return
	}
	n.resync() // the passive says hello again, with the new set of apps
}

// retire stops an app that is replaced or undeployed.
func (n *Node) retire(u *unit) {
	for _, s := range u.sources {
		ctx, cancel := context.WithTimeout(context.Background(), defaultStopTimeout)
		if err := s.Stop(ctx); err != nil {
			n.log.Warn("source stop", "app", u.plan.Name, "err", err)
		}
		cancel()
	}
	u.sources = nil
	u.app.Stop()
}

func (n *Node) noteBroken(app, reason string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if reason == "" {
		delete(n.broken, app)
		return
	}
	if n.broken[app] != reason {
		n.log.Error("deployed app not run", "app", app, "reason", reason)
	}
	n.broken[app] = reason
}

func apiFile(app string) string { return "api:" + app }

// DeployResult is the answer to a deployment.
type DeployResult struct {
	Name    string `json:"name"`
	Version uint64 `json:"version"`
	Hash    string `json:"hash"`
}

// DeployApp checks an app and stores it in the coordination store, from
// where both nodes pick it up.
func (n *Node) DeployApp(ctx context.Context, text []byte) (DeployResult, error) {
	store, ok := n.appStore()
	if !ok {
		return DeployResult{}, errNoAppStore
	}
	tree, err := parser.Parse("request", text)
	if err != nil {
		return DeployResult{}, err
	}
	name := tree.Name()
	if name == "" {
		return DeployResult{}, &ast.Error{File: "request", Pos: ast.Pos{Line: 1, Col: 1},
			Msg: "an app deployed through the API needs @app:name('...')"}
	}
	if _, err := deploy.Load(apiFile(name), text, n.deps.Connectors); err != nil {
		return DeployResult{}, err
	}
	for _, u := range n.unitList() {
		if u.plan.Name == name && u.origin == originConfig {
			return DeployResult{}, fmt.Errorf("%w: app %s comes from this node's config file", errConflict, name)
		}
	}
	a, err := store.PutApp(ctx, name, text)
	if err != nil {
		return DeployResult{}, fmt.Errorf("store app %s: %w", name, err)
	}
	// Take it up now rather than at the next heartbeat.
	if err := n.onLoop(ctx, func(lctx context.Context) error { n.reconcile(lctx); return nil }); err != nil {
		return DeployResult{}, err
	}
	return DeployResult{Name: a.Name, Version: a.Version, Hash: a.Hash}, nil
}

// UndeployApp removes an API-deployed app from the group.
func (n *Node) UndeployApp(ctx context.Context, name string) error {
	store, ok := n.appStore()
	if !ok {
		return errNoAppStore
	}
	for _, u := range n.unitList() {
		if u.plan.Name == name && u.origin == originConfig {
			return fmt.Errorf("%w: app %s comes from this node's config file", errConflict, name)
		}
	}
	if err := store.DeleteApp(ctx, name); err != nil {
		if errors.Is(err, coord.ErrNoApp) {
			return fmt.Errorf("%w: %s", ErrUnknownApp, name)
		}
		return err
	}
	return n.onLoop(ctx, func(lctx context.Context) error { n.reconcile(lctx); return nil })
}

var (
	errNoAppStore = errors.New("this coordination store does not keep apps; list them in the config file")
	errConflict   = errors.New("conflict")
)

// AppInfo is one app in GET /api/v1/apps.
type AppInfo struct {
	Name     string `json:"name"`
	Origin   string `json:"origin"` // config or api
	Version  uint64 `json:"version,omitempty"`
	Hash     string `json:"hash"`
	Role     string `json:"role"`
	Inactive string `json:"inactive,omitempty"`
}

// Apps lists the node's apps, and API-deployed apps it cannot run.
func (n *Node) Apps() []AppInfo {
	var out []AppInfo
	for _, u := range n.unitList() {
		n.mu.Lock()
		inactive := u.inactive
		n.mu.Unlock()
		out = append(out, AppInfo{Name: u.plan.Name, Origin: u.origin, Version: u.version, Hash: u.plan.Hash,
			Role: u.app.Status().Role, Inactive: inactive})
	}
	n.mu.Lock()
	for name, reason := range n.broken {
		out = append(out, AppInfo{Name: name, Origin: originAPI, Role: "inactive", Inactive: reason})
	}
	n.mu.Unlock()
	slices.SortFunc(out, func(a, b AppInfo) int { return strings.Compare(a.Name, b.Name) })
	return out
}

func (n *Node) appsAPI(mux *http.ServeMux) {
	mux.HandleFunc("GET /api/v1/apps", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, n.Apps())
	})
	mux.HandleFunc("POST /api/v1/apps", func(w http.ResponseWriter, r *http.Request) {
		text, err := io.ReadAll(io.LimitReader(r.Body, coord.MaxAppSize+1))
		if err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
			return
		}
		if len(text) > coord.MaxAppSize {
			writeJSON(w, http.StatusRequestEntityTooLarge, map[string]string{"error": fmt.Sprintf("app larger than %d bytes", coord.MaxAppSize)})
			return
		}
		res, err := n.DeployApp(r.Context(), text)
		if err != nil {
			writeAppError(w, err)
			return
		}
		writeJSON(w, http.StatusCreated, res)
	})
	mux.HandleFunc("DELETE /api/v1/apps/{app}", func(w http.ResponseWriter, r *http.Request) {
		if err := n.UndeployApp(r.Context(), r.PathValue("app")); err != nil {
			writeAppError(w, err)
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{"result": "undeployed"})
	})
}

func writeAppError(w http.ResponseWriter, err error) {
	var list ast.ErrorList
	var one *ast.Error
	switch {
	case errors.As(err, &list):
		msgs := make([]string, len(list))
		for i, e := range list {
			msgs[i] = e.Error()
		}
		writeJSON(w, http.StatusBadRequest, map[string]any{"error": "invalid app", "errors": msgs})
	case errors.As(err, &one):
		writeJSON(w, http.StatusBadRequest, map[string]any{"error": "invalid app", "errors": []string{one.Error()}})
	case errors.Is(err, ErrUnknownApp):
		writeJSON(w, http.StatusNotFound, map[string]string{"error": err.Error()})
	case errors.Is(err, errConflict):
		writeJSON(w, http.StatusConflict, map[string]string{"error": err.Error()})
	case errors.Is(err, errNoAppStore):
		writeJSON(w, http.StatusNotImplemented, map[string]string{"error": err.Error()})
	default:
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": err.Error()})
	}
}
