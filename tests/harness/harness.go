// Package harness executes the local stack's resource graph, as the Pulumi
// program registers it under mocks (infra/pulumitest), against a real
// Docker engine: the test-only stand-in for pulumi-docker on machines where
// the Pulumi CLI and provider plugins cannot be installed (CI).
//
// It implements exactly the pulumi-docker input properties infra/docker
// uses (see implemented in schema.go) and rejects anything else before it
// touches Docker, so the program and the harness cannot silently drift.
// Every Docker object it creates carries the label LabelStack, which is how
// Down (and the next Up, for leftovers of a killed run) finds them.
package harness

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	dockerinfra "github.com/shipyard-kit/shipyard/infra/docker"
	"github.com/shipyard-kit/shipyard/infra/pulumitest"
	"github.com/shipyard-kit/shipyard/infra/stackconfig"
)

// LabelStack marks every Docker object the harness creates; its value is
// the stack name.
const LabelStack = "dev.shipyard.harness.stack"

// Errors the harness reports; each is wrapped with the cause and the fix.
var (
	ErrDockerUnavailable = errors.New("the Docker engine is not reachable")
	ErrImageMissing      = errors.New("image not found locally")
	ErrPortInUse         = errors.New("published port already in use")
	ErrNotImplemented    = errors.New("not implemented by the test harness")
	ErrNameInUse         = errors.New("name already used by a Docker object the harness did not create")
)

// ImageIDPrefix marks a placeholder for an image's ID in a recorded graph:
// "harness:image-id:<name>". The harness resolves it when it runs a
// container and in Outputs, once the image is built or found.
const ImageIDPrefix = "harness:image-id:"

// Mocks are the provider outputs the harness's recording needs: what
// pulumi-docker and pulumi-random would compute, in a form the harness can
// execute. Image IDs are placeholders (ImageIDPrefix) resolved at run time,
// passwords are random, and every container's exitCode is 0: the harness
// checks the real exit code of attached containers itself (with
// infra/docker's CheckMigration), after running them.
func Mocks() []pulumitest.Option {
	placeholder := func(name resource.PropertyValue) resource.PropertyValue {
		return resource.NewStringProperty(ImageIDPrefix + unsecret(name).StringValue())
	}
	return []pulumitest.Option{
		pulumitest.WithOutputs(TypeImage, func(_ string, in resource.PropertyMap) resource.PropertyMap {
			// repoDigest of a local, unpushed build is the image's ID.
			return resource.PropertyMap{"repoDigest": placeholder(in["imageName"])}
		}),
		pulumitest.WithOutputs(TypeRemoteImage, func(_ string, in resource.PropertyMap) resource.PropertyMap {
			return resource.PropertyMap{"imageId": placeholder(in["name"])}
		}),
		pulumitest.WithOutputs(TypeRandomPassword, func(_ string, in resource.PropertyMap) resource.PropertyMap {
			n := 32
			if v, ok := in["length"]; ok && v.IsNumber() {
				n = int(v.NumberValue())
			}
			return resource.PropertyMap{"result": resource.MakeSecret(resource.NewStringProperty(randomString(n)))}
		}),
		pulumitest.WithOutputs(TypeContainer, func(string, resource.PropertyMap) resource.PropertyMap {
			return resource.PropertyMap{"exitCode": resource.NewNumberProperty(0), "containerLogs": resource.NewStringProperty("")}
		}),
	}
}

func randomString(n int) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, n)
	for i := range b {
		k, err := rand.Int(rand.Reader, big.NewInt(int64(len(alphabet))))
		if err != nil {
			panic(err)
		}
		b[i] = alphabet[k.Int64()]
	}
	return string(b)
}

// Record runs the local program (infra/docker's NewStack, as stacks/ calls
// it for a docker target) for cfg under mocks and returns its graph.
func Record(cfg *stackconfig.Config, opts ...pulumitest.Option) (*pulumitest.Graph, error) {
	g, err := pulumitest.Run(cfg.Stack, func(ctx *pulumi.Context) (pulumi.Map, error) {
		return dockerinfra.NewStack(ctx, cfg)
	}, append(Mocks(), opts...)...)
	if err != nil {
		return nil, fmt.Errorf("recording stack %s: %w", cfg.Stack, err)
	}
	return g, nil
}

// Options configures a Harness.
type Options struct {
	// Docker is the docker client; default $DOCKER, else DefaultDocker.
	Docker string
	// Env is extra environment for the client (e.g. DOCKER_HOST=…).
	Env []string
	// ProgramDir is the Pulumi program's working directory, against which
	// relative build paths resolve (the repository's stacks/).
	ProgramDir string
	// Logf reports progress; default discards.
	Logf func(format string, args ...any)
}

// Harness executes one recorded graph.
type Harness struct {
	graph *pulumitest.Graph
	opts  Options
	e     *engine
	nodes []*node

	mu       sync.Mutex
	imageIDs map[string]string // image name → ID, as found or built
}

type node struct {
	res  pulumitest.Resource
	in   in
	deps []*node
}

// New checks the graph (every resource type and input property must be
// implemented) and prepares its execution order.
func New(g *pulumitest.Graph, opts Options) (*Harness, error) {
	if opts.Docker == "" {
		opts.Docker = os.Getenv("DOCKER")
	}
	if opts.Docker == "" {
		opts.Docker = DefaultDocker
	}
	if opts.Logf == nil {
		opts.Logf = func(string, ...any) {}
	}
	h := &Harness{graph: g, opts: opts, e: &engine{cli: opts.Docker, env: opts.Env}, imageIDs: map[string]string{}}
	if err := h.validate(); err != nil {
		return nil, err
	}
	return h, nil
}

// Outputs are the stack outputs the program returned, with image ID
// placeholders resolved (after Up).
func (h *Harness) Outputs() map[string]any {
	out, _ := h.resolveAll(h.graph.Outputs).(map[string]any)
	return out
}

func (h *Harness) resolveAll(v any) any {
	switch v := v.(type) {
	case string:
		h.mu.Lock()
		defer h.mu.Unlock()
		if id, ok := h.imageIDs[strings.TrimPrefix(v, ImageIDPrefix)]; ok && strings.HasPrefix(v, ImageIDPrefix) {
			return id
		}
		return v
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = h.resolveAll(e)
		}
		return out
	case []string:
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = h.resolveAll(e)
		}
		return out
	case map[string]any:
		out := map[string]any{}
		for k, e := range v {
			out[k] = h.resolveAll(e)
		}
		return out
	case map[string]string:
		out := map[string]any{}
		for k, e := range v {
			out[k] = h.resolveAll(e)
		}
		return out
	}
	return v
}

// imageID resolves an image reference: a placeholder becomes the ID of the
// named local image (recorded for Outputs), anything else is returned as is.
func (h *Harness) imageID(ctx context.Context, ref string) (string, error) {
	name, ok := strings.CutPrefix(ref, ImageIDPrefix)
	if !ok {
		return ref, nil
	}
	id, err := h.e.run(ctx, "image", "inspect", "--format", "{{.Id}}", name)
	if err != nil {
		return "", fmt.Errorf("%w: %s; build it with `make test-images`", ErrImageMissing, name)
	}
	h.mu.Lock()
	h.imageIDs[name] = id
	h.mu.Unlock()
	return id, nil
}

// validate rejects every resource type and input property the harness does
// not implement, and builds the dependency graph of the custom resources.
func (h *Harness) validate() error {
	var problems []string
	byURN := map[string]*node{}
	children := map[string][]string{}
	for _, r := range h.graph.Resources {
		children[r.Parent] = append(children[r.Parent], r.URN)
		if !r.Custom {
			continue // components only group their children
		}
		for _, p := range checkInputs(r.Type, r.Inputs) {
			problems = append(problems, fmt.Sprintf("%s %q: %s", r.Type, r.Name, p))
		}
		n := &node{res: r, in: inputs(r.Inputs)}
		if r.Type == TypeContainer && n.in.boolean("attach", false) && n.in.boolean("mustRun", true) {
			problems = append(problems, fmt.Sprintf("%s %q: attach needs mustRun: false (a container that exits is not running)", r.Type, r.Name))
		}
		if r.Type == TypeImage && !n.in.boolean("skipPush", false) {
			problems = append(problems, fmt.Sprintf("%s %q: pushing images (skipPush: false) is not implemented; no registry is reachable", r.Type, r.Name))
		}
		h.nodes = append(h.nodes, n)
		byURN[r.URN] = n
	}
	if len(problems) > 0 {
		return fmt.Errorf("%w: the local program uses what the harness cannot execute; implement it in tests/harness (schema.go and harness.go) or change infra/docker:%s",
			ErrNotImplemented, joinProblems(problems))
	}
	// A dependency on a component is a dependency on all its descendants.
	var expand func(urn string, seen map[string]bool) []*node
	expand = func(urn string, seen map[string]bool) []*node {
		if seen[urn] {
			return nil
		}
		seen[urn] = true
		if n, ok := byURN[urn]; ok {
			return []*node{n}
		}
		var out []*node
		for _, c := range children[urn] {
			out = append(out, expand(c, seen)...)
		}
		return out
	}
	for _, n := range h.nodes {
		seen := map[string]bool{n.res.URN: true}
		for _, d := range n.res.Dependencies {
			n.deps = append(n.deps, expand(d, seen)...)
		}
	}
	// Reject cycles now rather than hang later.
	state := map[*node]int{}
	var visit func(n *node) error
	visit = func(n *node) error {
		switch state[n] {
		case 1:
			return fmt.Errorf("dependency cycle through %s %q", n.res.Type, n.res.Name)
		case 2:
			return nil
		}
		state[n] = 1
		for _, d := range n.deps {
			if err := visit(d); err != nil {
				return err
			}
		}
		state[n] = 2
		return nil
	}
	for _, n := range h.nodes {
		if err := visit(n); err != nil {
			return err
		}
	}
	return nil
}

// Order returns the custom resources' names in an order that respects
// their dependencies (the order Up starts them in when run one at a time).
func (h *Harness) Order() []string {
	done := map[*node]bool{}
	var out []string
	for len(out) < len(h.nodes) {
		for _, n := range h.nodes {
			if done[n] || !allDone(n.deps, done) {
				continue
			}
			done[n] = true
			out = append(out, n.res.Name)
		}
	}
	return out
}

// DependsOn reports whether the resource named a (transitively) depends
// on the one named b.
func (h *Harness) DependsOn(a, b string) bool {
	var find func(n *node, seen map[*node]bool) bool
	find = func(n *node, seen map[*node]bool) bool {
		for _, d := range n.deps {
			if seen[d] {
				continue
			}
			seen[d] = true
			if d.res.Name == b || find(d, seen) {
				return true
			}
		}
		return false
	}
	for _, n := range h.nodes {
		if n.res.Name == a {
			return find(n, map[*node]bool{})
		}
	}
	return false
}

func allDone(deps []*node, done map[*node]bool) bool {
	for _, d := range deps {
		if !done[d] {
			return false
		}
	}
	return true
}

func (h *Harness) stack() string { return h.graph.Stack }

// CheckDocker fails with ErrDockerUnavailable, naming the fix, when the
// client is missing or cannot reach the engine.
func (h *Harness) CheckDocker(ctx context.Context) error {
	if _, err := os.Stat(h.e.cli); err != nil {
		return fmt.Errorf("%w: docker client %s: %v; install it (`apt-get install docker.io`) or set DOCKER to the client's path",
			ErrDockerUnavailable, h.e.cli, err)
	}
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	if _, err := h.e.run(ctx, "version", "--format", "{{.Server.Version}}"); err != nil {
		return fmt.Errorf("%w with %s (DOCKER_HOST %s): %v\nstart it: `sudo systemctl start docker`, or where there is no init system (CI, containers) `nohup dockerd --storage-driver=vfs >/tmp/dockerd.log 2>&1 &`; then `%s info` must succeed",
			ErrDockerUnavailable, h.e.cli, h.e.host(), err, h.e.cli)
	}
	return nil
}

// Preflight checks, before anything is created, what would otherwise fail
// half-way: the engine is reachable, every remote image exists locally (the
// harness never pulls), every published port is free and no Docker object
// the harness did not create uses one of the stack's names.
func (h *Harness) Preflight(ctx context.Context) error {
	if err := h.CheckDocker(ctx); err != nil {
		return err
	}
	var errs []error
	for _, n := range h.nodes {
		switch n.res.Type {
		case TypeRemoteImage:
			name := n.in.str("name")
			if _, err := h.e.run(ctx, "image", "inspect", "--format", "{{.Id}}", name); err != nil {
				errs = append(errs, fmt.Errorf("%w: %s (needed by %q): no registry is reachable and the harness never pulls; build the offline stand-ins with `make test-images` (tests/images/build.sh), or where a registry is reachable `docker pull %s`",
					ErrImageMissing, name, n.res.Name, name))
			}
		case TypeContainer:
			for _, p := range n.in.objs("ports") {
				if !p.has("external") {
					continue
				}
				addr := net.JoinHostPort(p.str("ip"), strconv.Itoa(p.num("external")))
				if err := portFree(addr); err != nil {
					errs = append(errs, fmt.Errorf("%w: %s (published by %q): %v; stop whatever listens there (`ss -ltnp 'sport = :%d'` shows it; a leftover stack: `make destroy`, or `tests/cleanup.sh` for a harness one) or choose another local.httpPort in config/%s.json",
						ErrPortInUse, addr, n.in.str("name"), err, p.num("external"), h.stack()))
				}
			}
			if err := h.nameFree(ctx, "container", n.in.str("name")); err != nil {
				errs = append(errs, err)
			}
		case TypeNetwork, TypeVolume:
			kind := map[string]string{TypeNetwork: "network", TypeVolume: "volume"}[n.res.Type]
			if err := h.nameFree(ctx, kind, n.in.str("name")); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

func portFree(addr string) error {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	return l.Close()
}

// nameFree fails when a Docker object of kind exists with name and was not
// created by the harness (e.g. a `make up` stack).
func (h *Harness) nameFree(ctx context.Context, kind, name string) error {
	labels := "{{json .Labels}}"
	if kind == "container" {
		labels = "{{json .Config.Labels}}"
	}
	out, err := h.e.run(ctx, kind, "inspect", "--format", labels, name)
	if err != nil {
		return nil // does not exist
	}
	var l map[string]string
	_ = json.Unmarshal([]byte(out), &l)
	if l[LabelStack] == h.stack() {
		return nil // a leftover of ours; Up removes it
	}
	return fmt.Errorf("%w: %s %q exists (e.g. from `make up`); remove it (`make destroy STACK=%s`, or `docker %s rm %s`) and retry",
		ErrNameInUse, kind, name, h.stack(), kind, name)
}

// Up removes leftovers of an earlier run of this stack, runs Preflight and
// creates every resource in dependency order, independent ones in
// parallel, waiting where pulumi-docker waits (attach, wait). On error the
// caller should still call Down.
func (h *Harness) Up(ctx context.Context) error {
	if err := h.CheckDocker(ctx); err != nil {
		return err
	}
	if err := h.Down(ctx); err != nil {
		return fmt.Errorf("removing leftovers: %w", err)
	}
	if err := h.Preflight(ctx); err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		mu       sync.Mutex
		done     = map[*node]bool{}
		started  = map[*node]bool{}
		firstErr error
		wg       sync.WaitGroup
		changed  = make(chan struct{}, len(h.nodes)+1)
	)
	for {
		mu.Lock()
		if firstErr != nil || len(done) == len(h.nodes) {
			mu.Unlock()
			break
		}
		for _, n := range h.nodes {
			if started[n] || !allDone(n.deps, done) {
				continue
			}
			started[n] = true
			wg.Add(1)
			go func(n *node) {
				defer wg.Done()
				t0 := time.Now()
				err := h.create(ctx, n)
				mu.Lock()
				if err != nil && firstErr == nil {
					firstErr = fmt.Errorf("%s %q: %w", n.res.Type, n.res.Name, err)
					cancel()
				}
				done[n] = true
				mu.Unlock()
				if err == nil {
					h.opts.Logf("harness: created %s %s (%s)", shortType(n.res.Type), n.res.Name, time.Since(t0).Round(100*time.Millisecond))
				}
				changed <- struct{}{}
			}(n)
		}
		mu.Unlock()
		<-changed
	}
	wg.Wait()
	return firstErr
}

func shortType(t string) string {
	if i := strings.LastIndex(t, ":"); i >= 0 {
		return t[i+1:]
	}
	return t
}

func (h *Harness) create(ctx context.Context, n *node) error {
	label := LabelStack + "=" + h.stack()
	switch n.res.Type {
	case TypeRandomPassword:
		return nil // computed by the mocks; no Docker object
	case TypeNetwork:
		args := []string{"network", "create", "--label", label}
		if d := n.in.str("driver"); d != "" {
			args = append(args, "--driver", d)
		}
		_, err := h.e.run(ctx, append(args, n.in.str("name"))...)
		return err
	case TypeVolume:
		args := []string{"volume", "create", "--label", label}
		if d := n.in.str("driver"); d != "" {
			args = append(args, "--driver", d)
		}
		_, err := h.e.run(ctx, append(args, n.in.str("name"))...)
		return err
	case TypeRemoteImage:
		_, err := h.imageID(ctx, ImageIDPrefix+n.in.str("name"))
		return err
	case TypeImage:
		if err := h.build(ctx, n); err != nil {
			return err
		}
		_, err := h.imageID(ctx, ImageIDPrefix+n.in.str("imageName"))
		return err
	case TypeContainer:
		return h.container(ctx, n)
	}
	return fmt.Errorf("%w: resource type %s", ErrNotImplemented, n.res.Type)
}

func (h *Harness) path(p string) string {
	if filepath.IsAbs(p) || h.opts.ProgramDir == "" {
		return p
	}
	return filepath.Join(h.opts.ProgramDir, p)
}

// build runs `docker build` as pulumi-docker's Image does for a local,
// unpushed image.
func (h *Harness) build(ctx context.Context, n *node) error {
	b := n.in.obj("build")
	args := []string{"build", "-q", "-t", n.in.str("imageName")}
	if df := b.str("dockerfile"); df != "" {
		args = append(args, "-f", h.path(df))
	}
	if p := b.str("platform"); p != "" {
		args = append(args, "--platform", p)
	}
	keys := make([]string, 0)
	for k := range b.strMap("args") {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		args = append(args, "--build-arg", k+"="+b.strMap("args")[k])
	}
	buildkit := "1"
	switch v := b.str("builderVersion"); v {
	case "BuilderV1":
		buildkit = "0"
	case "", "BuilderBuildKit":
	default:
		return fmt.Errorf("%w: builderVersion %q", ErrNotImplemented, v)
	}
	e := *h.e
	e.env = append(append([]string(nil), e.env...), "DOCKER_BUILDKIT="+buildkit)
	buildContext := b.str("context")
	if buildContext == "" {
		buildContext = "."
	}
	if _, err := e.run(ctx, append(args, h.path(buildContext))...); err != nil {
		return fmt.Errorf("building %s: %w (the Dockerfile copies the binary `make build-linux` produces; `make image` builds both)", n.in.str("imageName"), err)
	}
	return nil
}

// container creates, uploads into, starts and waits for one container.
func (h *Harness) container(ctx context.Context, n *node) error {
	i := n.in
	name := i.str("name")
	labels := map[string]string{LabelStack: h.stack()}
	for _, l := range i.objs("labels") {
		labels[l.str("label")] = l.str("value")
	}
	image, err := h.imageID(ctx, i.str("image"))
	if err != nil {
		return err
	}
	cfg := map[string]any{
		"Image":  image,
		"Env":    i.strs("envs"),
		"User":   i.str("user"),
		"Labels": labels,
	}
	cmd := i.strs("command")
	if ep := i.strs("entrypoints"); len(ep) > 0 {
		cfg["Entrypoint"] = ep
	}
	if len(cmd) > 0 {
		cfg["Cmd"] = cmd
	}
	if i.has("stopTimeout") {
		cfg["StopTimeout"] = i.num("stopTimeout")
	}
	if i.has("healthcheck") {
		hc := i.obj("healthcheck")
		check := map[string]any{"Test": hc.strs("tests"), "Retries": hc.num("retries")}
		for key, field := range map[string]string{"Interval": "interval", "Timeout": "timeout", "StartPeriod": "startPeriod"} {
			if s := hc.str(field); s != "" {
				d, err := time.ParseDuration(s)
				if err != nil {
					return fmt.Errorf("healthcheck.%s: %w", field, err)
				}
				check[key] = d.Nanoseconds()
			}
		}
		cfg["Healthcheck"] = check
	}
	host := map[string]any{
		"ReadonlyRootfs": i.boolean("readOnly", false),
	}
	if r := i.str("restart"); r != "" {
		host["RestartPolicy"] = map[string]any{"Name": r, "MaximumRetryCount": i.num("maxRetryCount")}
	}
	if d := i.str("logDriver"); d != "" {
		host["LogConfig"] = map[string]any{"Type": d, "Config": i.strMap("logOpts")}
	}
	var binds []string
	for _, v := range i.objs("volumes") {
		b := v.str("volumeName") + ":" + v.str("containerPath")
		if v.boolean("readOnly", false) {
			b += ":ro"
		}
		binds = append(binds, b)
	}
	host["Binds"] = binds
	var mounts []map[string]any
	for _, m := range i.objs("mounts") {
		mounts = append(mounts, map[string]any{"Type": m.str("type"), "Source": m.str("source"), "Target": m.str("target"), "ReadOnly": m.boolean("readOnly", false)})
	}
	host["Mounts"] = mounts
	exposed := map[string]any{}
	bindings := map[string][]map[string]string{}
	for _, p := range i.objs("ports") {
		proto := p.str("protocol")
		if proto == "" {
			proto = "tcp"
		}
		key := strconv.Itoa(p.num("internal")) + "/" + proto
		exposed[key] = struct{}{}
		b := map[string]string{"HostIp": p.str("ip")}
		if p.has("external") {
			b["HostPort"] = strconv.Itoa(p.num("external"))
		}
		bindings[key] = append(bindings[key], b)
	}
	cfg["ExposedPorts"] = exposed
	host["PortBindings"] = bindings
	nets := i.objs("networksAdvanced")
	if len(nets) > 0 {
		host["NetworkMode"] = nets[0].str("name")
		cfg["NetworkingConfig"] = map[string]any{"EndpointsConfig": map[string]any{
			nets[0].str("name"): map[string]any{"Aliases": nets[0].strs("aliases")},
		}}
	}
	cfg["HostConfig"] = host

	if err := h.e.api(ctx, "POST", "/containers/create", url.Values{"name": {name}}, cfg, nil); err != nil {
		var ae *apiError
		if errors.As(err, &ae) && ae.status == 404 {
			return fmt.Errorf("%w: %s: %v; build it with `make test-images`", ErrImageMissing, i.str("image"), err)
		}
		return fmt.Errorf("creating container %s: %w", name, err)
	}
	for _, nw := range nets[min(1, len(nets)):] {
		args := []string{"network", "connect"}
		for _, a := range nw.strs("aliases") {
			args = append(args, "--alias", a)
		}
		if _, err := h.e.run(ctx, append(args, nw.str("name"), name)...); err != nil {
			return err
		}
	}
	for _, u := range i.objs("uploads") {
		if err := h.upload(ctx, name, u); err != nil {
			return err
		}
	}
	if !i.boolean("start", true) {
		return nil
	}
	if _, err := h.e.run(ctx, "start", name); err != nil {
		if strings.Contains(err.Error(), "already allocated") || strings.Contains(err.Error(), "address already in use") {
			return fmt.Errorf("%w: starting %s: %v; free the port or change local.httpPort in config/%s.json", ErrPortInUse, name, err, h.stack())
		}
		return fmt.Errorf("starting %s: %w", name, err)
	}
	if i.boolean("attach", false) {
		return h.attach(ctx, name, i.boolean("logs", false))
	}
	if i.boolean("wait", false) {
		timeout := 60
		if i.has("waitTimeout") {
			timeout = i.num("waitTimeout")
		}
		if err := h.waitHealthy(ctx, name, time.Duration(timeout)*time.Second); err != nil {
			return err
		}
	}
	if i.boolean("mustRun", true) {
		s, err := h.e.state(ctx, name)
		if err != nil {
			return err
		}
		if !s.Running {
			return fmt.Errorf("container %s exited (code %d) right after it started; its logs:\n%s", name, s.ExitCode, h.e.logsTail(ctx, name, 30))
		}
	}
	return nil
}

func (h *Harness) upload(ctx context.Context, container string, u in) error {
	var data []byte
	switch {
	case u.has("content"):
		data = []byte(u.str("content"))
	case u.has("contentBase64"):
		var err error
		if data, err = base64.StdEncoding.DecodeString(u.str("contentBase64")); err != nil {
			return fmt.Errorf("upload %s: contentBase64: %w", u.str("file"), err)
		}
	}
	mode := os.FileMode(0o644)
	if u.boolean("executable", false) {
		mode = 0o755
	}
	dir, err := os.MkdirTemp("", "harness-upload-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	src := filepath.Join(dir, filepath.Base(u.str("file")))
	if err := os.WriteFile(src, data, mode); err != nil {
		return err
	}
	if err := os.Chmod(src, mode); err != nil {
		return err
	}
	_, err = h.e.run(ctx, "cp", src, container+":"+u.str("file"))
	return err
}

// attach waits for a one-off container to exit, as pulumi-docker's attach
// does, then applies the program's check of its exit code.
func (h *Harness) attach(ctx context.Context, name string, keepLogs bool) error {
	out, err := h.e.run(ctx, "wait", name)
	if err != nil {
		return err
	}
	code, err := strconv.Atoi(out)
	if err != nil {
		return fmt.Errorf("docker wait %s: unexpected output %q", name, out)
	}
	logs := ""
	if keepLogs {
		logs = h.e.logsTail(ctx, name, 50)
	}
	_, err = dockerinfra.CheckMigration(code, logs)
	return err
}

// waitHealthy polls the container's health until healthy, failing early
// when it exits or turns unhealthy.
func (h *Harness) waitHealthy(ctx context.Context, name string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	var last containerState
	for {
		s, err := h.e.state(ctx, name)
		if err != nil {
			return err
		}
		last = s
		if s.Health == nil {
			return fmt.Errorf("wait: container %s has no health check (pulumi-docker fails the same way)", name)
		}
		switch {
		case s.Health.Status == "healthy":
			return nil
		case !s.Running:
			return fmt.Errorf("container %s exited (code %d) before it was healthy; its logs:\n%s", name, s.ExitCode, h.e.logsTail(ctx, name, 30))
		case s.Health.Status == "unhealthy":
			return fmt.Errorf("container %s is unhealthy: %s; its logs:\n%s", name, lastProbe(s), h.e.logsTail(ctx, name, 30))
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("container %s not healthy after %s (health %q, last probe: %s); its logs:\n%s", name, timeout, last.Health.Status, lastProbe(last), h.e.logsTail(ctx, name, 30))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
}

func lastProbe(s containerState) string {
	if s.Health == nil || len(s.Health.Log) == 0 {
		return "none yet"
	}
	l := s.Health.Log[len(s.Health.Log)-1]
	return fmt.Sprintf("exit %d %q", l.ExitCode, strings.TrimSpace(l.Output))
}

// Down removes every Docker object labelled with this stack: containers
// are stopped in parallel with their destroyGraceSeconds (else their stop
// timeout) as pulumi-docker's delete does, then removed with their
// anonymous volumes; then networks and volumes. Images are kept, as
// keepLocally asks (the app image is a build cache).
func (h *Harness) Down(ctx context.Context) error {
	filter := "label=" + LabelStack + "=" + h.stack()
	grace := map[string]int{}
	for _, n := range h.nodes {
		if n.res.Type != TypeContainer {
			continue
		}
		g := 10
		if n.in.has("stopTimeout") {
			g = n.in.num("stopTimeout")
		}
		if n.in.has("destroyGraceSeconds") {
			g = n.in.num("destroyGraceSeconds")
		}
		grace[n.in.str("name")] = g
	}
	out, err := h.e.run(ctx, "ps", "-a", "--filter", filter, "--format", "{{.Names}}")
	if err != nil {
		return err
	}
	var errs []error
	var wg sync.WaitGroup
	var mu sync.Mutex
	for _, c := range strings.Fields(out) {
		wg.Add(1)
		go func(c string) {
			defer wg.Done()
			g, ok := grace[c]
			if !ok {
				g = 10
			}
			_, _ = h.e.run(ctx, "stop", "-t", strconv.Itoa(g), c)
			if _, err := h.e.run(ctx, "rm", "-f", "-v", c); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		}(c)
	}
	wg.Wait()
	for _, kind := range []string{"network", "volume"} {
		out, err := h.e.run(ctx, kind, "ls", "-q", "--filter", filter)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, id := range strings.Fields(out) {
			if _, err := h.e.run(ctx, kind, "rm", id); err != nil {
				errs = append(errs, err)
			}
		}
	}
	for _, n := range h.nodes {
		if n.res.Type == TypeRemoteImage && !n.in.boolean("keepLocally", false) {
			_, _ = h.e.run(ctx, "image", "rm", n.in.str("name"))
		}
	}
	return errors.Join(errs...)
}
